//! OAuth sign-in through real redirects against the local mock providers.

use crate::common;

use common::{Backend, TestApp};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use weasel_server::config::{OAuthProvider, Provider, Secret};

async fn with_mock(backend: Backend) -> TestApp {
    let client = oauth_mock::Client {
        id: "weasel-test".into(),
        secret: "weasel-test-secret".into(),
    };
    let mock = oauth_mock::spawn("127.0.0.1:0".parse().unwrap(), client)
        .await
        .unwrap();
    TestApp::spawn_with(backend, |settings| {
        settings.oauth = Provider::ALL
            .into_iter()
            .map(|provider| {
                let at = |path: &str| format!("http://{mock}/{}/{path}", provider.id());
                OAuthProvider {
                    provider,
                    client_id: "weasel-test".into(),
                    client_secret: Secret::new("weasel-test-secret"),
                    auth_url: at("authorize"),
                    token_url: at("token"),
                    userinfo_url: at("userinfo"),
                }
            })
            .collect();
    })
    .await
}

/// Follows start → provider → callback like a browser; returns where the app sent us.
async fn sign_in_with(app: &TestApp, client: &Client, provider: &str, person: &[(&str, &str)]) -> String {
    sign_in_then(app, client, provider, person, "/profile").await
}

/// The same, asking to land on `next` (as written in the start URL's query).
async fn sign_in_then(
    app: &TestApp,
    client: &Client,
    provider: &str,
    person: &[(&str, &str)],
    next: &str,
) -> String {
    let start = client
        .get(app.url(&format!("/auth/{provider}/start?next={next}")))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = start.headers()["location"].to_str().unwrap().to_string();
    assert!(
        authorize.contains("code_challenge_method=S256") && authorize.contains("state="),
        "{authorize}"
    );
    let mut url = reqwest::Url::parse(&authorize).unwrap();
    url.query_pairs_mut()
        .append_pair("auto", "1")
        .extend_pairs(person);
    let approved = client.get(url).send().await.unwrap();
    assert_eq!(
        approved.status(),
        StatusCode::SEE_OTHER,
        "{}",
        approved.text().await.unwrap()
    );
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    assert!(
        callback.starts_with(&app.url(&format!("/auth/{provider}/callback?"))),
        "{callback}"
    );
    let done = client.get(callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    done.headers()["location"].to_str().unwrap().to_string()
}

async fn me(app: &TestApp, client: &Client) -> Value {
    app.call(client, "me", &[]).await.json().await.unwrap()
}

#[tokio::test]
async fn every_provider_signs_in_and_creates_an_account() {
    let app = with_mock(Backend::Postgres).await;
    for (i, provider) in ["google", "github", "kakao", "naver"].into_iter().enumerate() {
        let client = app.browser();
        let email = format!("{provider}.user@example.com");
        let subject = (1000 + i).to_string();
        let landed = sign_in_with(&app, &client, provider, &[("sub", &subject), ("email", &email)]).await;
        assert_eq!(landed, "/profile", "{provider}");
        let user = me(&app, &client).await;
        assert_eq!(user["email"], email.as_str(), "{provider}");
        assert_eq!(user["providers"], serde_json::json!([provider]));
        assert_eq!(user["has_password"], false);

        // The same person again is the same account.
        let again = app.browser();
        sign_in_with(
            &app,
            &again,
            provider,
            &[("sub", &subject), ("email", "changed@example.com")],
        )
        .await;
        assert_eq!(me(&app, &again).await["email"], email.as_str(), "{provider}");
    }
    let providers = app
        .call(&app.browser(), "providers", &[])
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(providers.as_array().unwrap().len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn an_unverified_email_never_takes_over_a_password_account() {
    let app = with_mock(Backend::Sqlite).await;
    let owner = app.browser();
    let form = [
        ("email", "owner@example.com"),
        ("password", "a long secret phrase"),
        ("confirm", "a long secret phrase"),
        ("next", "/"),
    ];
    let _ = form;
    let confirmed = app
        .sign_up_and_confirm(&owner, "owner@example.com", "a long secret phrase")
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);

    let attacker = app.browser();
    let person = [
        ("sub", "evil-1"),
        ("email", "owner@example.com"),
        ("email_verified", "false"),
    ];
    let landed = sign_in_with(&app, &attacker, "google", &person).await;
    assert_eq!(landed, "/sign-in?oauth_error=email_exists");
    assert_eq!(me(&app, &attacker).await, Value::Null);
    let storage = app.storage().await;
    assert!(
        storage
            .user_by_identity("google", "evil-1")
            .await
            .unwrap()
            .is_none(),
        "nothing linked"
    );

    // Naver never vouches for emails, so it cannot link either.
    let landed = sign_in_with(
        &app,
        &app.browser(),
        "naver",
        &[("sub", "n-1"), ("email", "owner@example.com")],
    )
    .await;
    assert_eq!(landed, "/sign-in?oauth_error=email_exists");

    // A provider that verified the email may link it.
    let owner_elsewhere = app.browser();
    let verified = [
        ("sub", "real-owner"),
        ("email", "owner@example.com"),
        ("email_verified", "true"),
    ];
    assert_eq!(
        sign_in_with(&app, &owner_elsewhere, "google", &verified).await,
        "/profile"
    );
    let user = me(&app, &owner_elsewhere).await;
    assert_eq!(
        (user["email"].as_str(), user["has_password"].as_bool()),
        (Some("owner@example.com"), Some(true))
    );

    // A signed-in user links a provider to their own account.
    let linked = sign_in_with(
        &app,
        &owner,
        "kakao",
        &[("sub", "k-9"), ("email", "other@example.com")],
    )
    .await;
    assert_eq!(linked, "/profile");
    assert_eq!(
        me(&app, &owner).await["providers"],
        serde_json::json!(["google", "kakao"])
    );
    storage.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_forged_or_stale_callback_is_refused() {
    let app = with_mock(Backend::Sqlite).await;
    let client = app.browser();
    let forged = client
        .get(app.url("/auth/github/callback?code=abc&state=guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()["location"], "/sign-in?oauth_error=state");

    let start = client.get(app.url("/auth/github/start")).send().await.unwrap();
    let authorize = reqwest::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let cancelled = client
        .get(app.url(&format!(
            "/auth/github/callback?error=access_denied&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.headers()["location"], "/sign-in?oauth_error=denied");
    assert_eq!(me(&app, &client).await, Value::Null);
    let unknown = client.get(app.url("/auth/facebook/start")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Pre-account takeover: someone registers the victim's address with a
/// password of their own. When the victim signs in through a provider that
/// vouches for the address, that password and every session of the account
/// are gone, and the account is theirs.
#[tokio::test]
async fn a_vouched_provider_sign_in_takes_back_an_unverified_account() {
    for backend in common::BACKENDS {
        let app = with_mock(backend).await;
        let attacker = app.browser();
        let form = [
            ("email", "victim@example.com"),
            ("password", "attacker knows this"),
            ("confirm", "attacker knows this"),
            ("next", "/"),
        ];
        assert_eq!(
            app.call(&attacker, "sign_up", &form).await.status(),
            StatusCode::OK
        );

        // An unverified account with a live session (made before email
        // verification existed): its session must end too.
        let legacy = app.signed_up("legacy@example.com").await;
        app.execute("UPDATE users SET email_verified_at = NULL").await;
        assert_eq!(me(&app, &legacy).await["email"], "legacy@example.com");

        for (email, sub) in [
            ("victim@example.com", "victim-1"),
            ("legacy@example.com", "legacy-1"),
        ] {
            let victim = app.browser();
            let person = [("sub", sub), ("email", email), ("email_verified", "true")];
            assert_eq!(
                sign_in_with(&app, &victim, "google", &person).await,
                "/profile",
                "{backend:?}"
            );
            let user = me(&app, &victim).await;
            assert_eq!(
                (user["email"].as_str(), user["has_password"].as_bool()),
                (Some(email), Some(false)),
                "the password someone else may have set is gone"
            );
        }
        assert_eq!(me(&app, &legacy).await, Value::Null, "every other session ended");
        let attempt = app
            .call(
                &attacker,
                "sign_in",
                &[
                    ("email", "victim@example.com"),
                    ("password", "attacker knows this"),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED);
        app.stop().await;
    }
}

/// `/` + TAB + `/evil.example` was followed by browsers as `//evil.example`.
#[tokio::test]
async fn the_provider_round_trip_lands_only_on_this_site() {
    let app = with_mock(Backend::Sqlite).await;
    for (i, next) in [
        "/%09/evil.example",
        "//evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "https://evil.example/",
    ]
    .into_iter()
    .enumerate()
    {
        let sub = format!("round-trip-{i}");
        let person = [
            ("sub", sub.as_str()),
            ("email", "trip@example.com"),
            ("email_verified", "true"),
        ];
        assert_eq!(
            sign_in_then(&app, &app.browser(), "google", &person, next).await,
            "/",
            "{next}"
        );
    }
    app.stop().await;
}
