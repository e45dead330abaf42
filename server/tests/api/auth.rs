//! Accounts through the real server functions, on both backends.

use crate::common;

use std::time::Duration;

use common::{BACKENDS, Backend, PASSWORD, TestApp, link_parameter};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use weasel_server::storage::{Role, Subject};

/// Signs up and confirms the email, as a person does; the sign-in's response.
async fn sign_up(app: &TestApp, client: &Client, email: &str) -> reqwest::Response {
    app.sign_up_and_confirm(client, email, PASSWORD).await
}

/// Only the first step: the form is sent, the mail not yet opened.
async fn start_sign_up(app: &TestApp, client: &Client, email: &str, password: &str) -> reqwest::Response {
    app.call(
        client,
        "sign_up",
        &[
            ("email", email),
            ("password", password),
            ("confirm", password),
            ("next", "/"),
        ],
    )
    .await
}

async fn sign_in(app: &TestApp, client: &Client, email: &str, password: &str) -> reqwest::Response {
    app.call(
        client,
        "sign_in",
        &[("email", email), ("password", password), ("next", "/profile")],
    )
    .await
}

/// The session's `Set-Cookie` (a sign-in also sets the device cookie).
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("weasel_session="))
        .expect("a session cookie")
        .to_string()
}

/// Changes the password from [`PASSWORD`] to `new` on `client`'s session.
async fn change_password(app: &TestApp, client: &Client, new: &str) {
    let change = [("current", PASSWORD), ("password", new), ("confirm", new)];
    assert_eq!(
        app.call(client, "change_password", &change).await.status(),
        StatusCode::OK
    );
}

async fn me(app: &TestApp, client: &Client) -> Value {
    let response = app.call(client, "me", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn error(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn sign_up_sign_out_sign_in() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let minji = app.browser();
        let response = sign_up(&app, &minji, "  MinJi@Example.com ").await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        assert!(
            response.headers().get("location").is_none(),
            "the hydrated page navigates itself"
        );
        let cookie = session_cookie(&response);
        assert!(cookie.starts_with("weasel_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        assert!(!cookie.contains("Secure"), "plain-http development URL: {cookie}");
        assert_eq!(
            me(&app, &minji).await["email"],
            "minji@example.com",
            "email normalised"
        );

        let out = app.call(&minji, "sign_out", &[]).await;
        assert_eq!(out.status(), StatusCode::OK);
        assert_eq!(me(&app, &minji).await, Value::Null);

        let (status, body) = error(sign_in(&app, &minji, "minji@example.com", "wrong password!").await).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, json!("BadCredentials"))
        );
        let (status, body) = error(sign_in(&app, &minji, "nobody@example.com", PASSWORD).await).await;
        assert_eq!(
            (status, body),
            (StatusCode::UNAUTHORIZED, json!("BadCredentials")),
            "same as a wrong password"
        );

        let response = sign_in(&app, &minji, "MINJI@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(me(&app, &minji).await["has_password"], true);
        app.stop().await;
    }
}

#[tokio::test]
async fn sign_up_refusals_are_clear_and_write_nothing() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let client = app.browser();
        assert_eq!(
            sign_up(&app, &client, "taken@example.com").await.status(),
            StatusCode::OK
        );

        // A taken address answers exactly like a new one; its owner is told.
        let other = app.browser();
        let seen = app.outbox.to("taken@example.com").len();
        let taken = start_sign_up(&app, &other, "Taken@example.com", "another long passphrase").await;
        let new = start_sign_up(
            &app,
            &app.browser(),
            "fresh@example.com",
            "another long passphrase",
        )
        .await;
        assert_eq!(taken.status(), new.status(), "{backend:?}");
        assert_eq!(taken.text().await.unwrap(), new.text().await.unwrap());
        let notice = app.mail_to("taken@example.com", seen).await;
        assert!(notice.body.contains("/forgot-password"), "{}", notice.body);
        assert!(
            !notice.body.contains("verify="),
            "no link that confirms the stranger's sign-up"
        );
        assert_eq!(me(&app, &other).await, Value::Null, "not signed in as the owner");
        let (status, _) =
            error(sign_in(&app, &other, "taken@example.com", "another long passphrase").await).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the owner's password is unchanged"
        );

        let short = [
            ("email", "new@example.com"),
            ("password", "short"),
            ("confirm", "shorter"),
            ("next", "/"),
        ];
        let (status, body) = error(app.call(&other, "sign_up", &short).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            body,
            json!({"Invalid": [
                {"field": "Password", "problem": "PasswordTooShort"},
                {"field": "Confirm", "problem": "PasswordsDiffer"}
            ]})
        );
        let bad_email = [
            ("email", "not-an-email"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
            ("next", "/"),
        ];
        let (_, body) = error(app.call(&other, "sign_up", &bad_email).await).await;
        assert_eq!(
            body,
            json!({"Invalid": [{"field": "Email", "problem": "EmailInvalid"}]})
        );
        assert!(
            app.storage()
                .await
                .user_by_email("new@example.com")
                .await
                .unwrap()
                .is_none()
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn repeated_failures_slow_down_then_block_and_success_resets() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.browser();
    sign_up(&app, &client, "target@example.com").await;
    app.call(&client, "sign_out", &[]).await;

    // Four failures, then the right password: the counter starts again.
    for _ in 0..4 {
        assert_eq!(
            sign_in(&app, &client, "target@example.com", "guess guess guess")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        sign_in(&app, &client, "target@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    app.call(&client, "sign_out", &[]).await;

    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, &client, "target@example.com", "guess guess guess")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "answers slowed down: {:?}",
        started.elapsed()
    );
    // Blocked now, even with the right password.
    let (status, body) = error(sign_in(&app, &client, "target@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait = body["Throttled"]["retry_after_secs"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{body}");
    assert_eq!(me(&app, &client).await, Value::Null);
    // Another account is not affected.
    let other = app.browser();
    assert_eq!(
        sign_up(&app, &other, "other@example.com").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn sessions_renew_on_sign_in_and_old_cookies_die() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let client = app.browser();
    let first = sign_up(&app, &client, "fix@example.com").await;
    let first_cookie = session_cookie(&first).split(';').next().unwrap().to_string();
    app.call(&client, "sign_out", &[]).await;
    let second = sign_in(&app, &client, "fix@example.com", PASSWORD).await;
    let second_cookie = session_cookie(&second).split(';').next().unwrap().to_string();
    assert_ne!(first_cookie, second_cookie, "a new session id at sign-in");

    // Replaying the cookie of the signed-out session gives nothing.
    let replay = app
        .client
        .post(app.url("/api/me"))
        .header("cookie", &first_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.json::<Value>().await.unwrap(), Value::Null);

    // A password change signs out every other session, but not this one.
    let elsewhere = app.browser();
    sign_in(&app, &elsewhere, "fix@example.com", PASSWORD).await;
    assert_ne!(me(&app, &elsewhere).await, Value::Null);
    let new_password = "a brand new passphrase";
    change_password(&app, &client, new_password).await;
    assert_ne!(
        me(&app, &client).await,
        Value::Null,
        "the session that changed it stays"
    );
    assert_eq!(me(&app, &elsewhere).await, Value::Null, "other sessions end");
    app.call(&client, "sign_out", &[]).await;
    assert_eq!(
        sign_in(&app, &client, "fix@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, &client, "fix@example.com", new_password)
            .await
            .status(),
        StatusCode::OK
    );
    app.stop().await;
}

/// What `/api/me` says for a request carrying only `cookie` (a replayed
/// session cookie, whatever the browser's jar holds now).
async fn me_with_cookie(app: &TestApp, cookie: &str) -> Value {
    let response = app
        .client
        .post(app.url("/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits up to two seconds for `/api/me` on `app` to say signed out.
async fn signed_out_within_2s(app: &TestApp, cookie: &str) -> bool {
    for _ in 0..40 {
        if me_with_cookie(app, cookie).await == Value::Null {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Each replica keeps a session and its user it loaded a moment ago
/// (`auth::cache`). A sign-out or a password change on one replica holds
/// on the others as soon as PostgreSQL tells them: with a minute's cache,
/// only the notification can end the session there within two seconds.
#[tokio::test]
async fn a_sign_out_or_password_change_on_one_replica_holds_on_the_others_at_once() {
    let a = TestApp::spawn_with(Backend::Postgres, |s| s.session.cache = Duration::from_secs(60)).await;
    let b = a.replica().await;
    let phone = a.browser();
    let phone_cookie = session_cookie(&sign_up(&a, &phone, "replica@example.com").await);
    let phone_cookie = phone_cookie.split(';').next().unwrap().to_string();
    let laptop = a.browser();
    let laptop_cookie = session_cookie(&sign_in(&a, &laptop, "replica@example.com", PASSWORD).await);
    let laptop_cookie = laptop_cookie.split(';').next().unwrap().to_string();
    // Both sessions and their user are now in b's memory.
    for cookie in [&phone_cookie, &laptop_cookie] {
        assert_eq!(me_with_cookie(&b, cookie).await["email"], "replica@example.com");
    }

    assert_eq!(a.call(&phone, "sign_out", &[]).await.status(), StatusCode::OK);
    assert!(
        signed_out_within_2s(&b, &phone_cookie).await,
        "the session signed out on a still works on b"
    );
    assert_eq!(
        me_with_cookie(&b, &laptop_cookie).await["email"],
        "replica@example.com",
        "another session of the same student is untouched"
    );

    // A password change on a ends every other session, on b too.
    sign_in(&a, &phone, "replica@example.com", PASSWORD).await;
    change_password(&a, &phone, "a brand new passphrase").await;
    assert!(
        signed_out_within_2s(&b, &laptop_cookie).await,
        "a session the password change ended still works on b"
    );
    assert_eq!(
        me(&b, &phone).await["email"],
        "replica@example.com",
        "the session that changed it stays, on every replica"
    );
    b.stop().await;
    a.stop().await;
}

/// A signed-in request reads its session and user from the database at
/// most once per `WEASEL_AUTH_CACHE_SECS`: a session row removed behind
/// the server's back (nobody told it) still works within that time, and
/// never after it.
#[tokio::test]
async fn a_session_is_kept_in_memory_for_at_most_the_cache_time() {
    for backend in BACKENDS {
        let app = TestApp::spawn_with(backend, |s| s.session.cache = Duration::from_secs(3)).await;
        let client = app.browser();
        sign_up(&app, &client, "memory@example.com").await;
        assert_eq!(me(&app, &client).await["email"], "memory@example.com");
        app.execute(match backend {
            Backend::Sqlite => "DELETE FROM tower_sessions",
            Backend::Postgres => "DELETE FROM tower_sessions.session",
        })
        .await;
        assert_eq!(
            me(&app, &client).await["email"],
            "memory@example.com",
            "{backend:?}: the session was read again at once"
        );
        tokio::time::sleep(Duration::from_millis(3100)).await;
        assert_eq!(
            me(&app, &client).await,
            Value::Null,
            "{backend:?}: the session outlived the cache time"
        );
        app.stop().await;

        // With the cache off, every request reads the database.
        let app = TestApp::spawn_with(backend, |s| s.session.cache = Duration::ZERO).await;
        let client = app.browser();
        sign_up(&app, &client, "nomemory@example.com").await;
        assert_eq!(me(&app, &client).await["email"], "nomemory@example.com");
        app.execute(match backend {
            Backend::Sqlite => "DELETE FROM tower_sessions",
            Backend::Postgres => "DELETE FROM tower_sessions.session",
        })
        .await;
        assert_eq!(me(&app, &client).await, Value::Null, "{backend:?}");
        app.stop().await;
    }
}

#[tokio::test]
async fn sessions_expire_when_idle_and_after_their_maximum_age() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.session.idle = Duration::from_secs(1)).await;
    let client = app.browser();
    sign_up(&app, &client, "idle@example.com").await;
    assert_ne!(me(&app, &client).await, Value::Null);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(me(&app, &client).await, Value::Null, "idle expiry");
    app.stop().await;

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.session.absolute = Duration::from_millis(800)
    })
    .await;
    let client = app.browser();
    sign_up(&app, &client, "old@example.com").await;
    assert_ne!(me(&app, &client).await, Value::Null);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(me(&app, &client).await, Value::Null, "absolute expiry");
    app.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_when_the_site_is_https() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.public_url = "https://weasel.example/".parse().unwrap();
    })
    .await;
    let response = sign_up(&app, &app.browser(), "secure@example.com").await;
    let cookie = session_cookie(&response);
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    app.stop().await;
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.browser();
    let form = [
        ("email", "csrf@example.com"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("next", "/"),
    ];
    let forged = client
        .post(app.url("/api/sign_up"))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let forged = client
        .post(app.url("/api/sign_up"))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        app.storage()
            .await
            .user_by_email("csrf@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let own_origin = format!("http://{}", app.addr);
    let genuine = client
        .post(app.url("/api/sign_up"))
        .header("origin", own_origin)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn deleting_an_account_removes_everything_of_it() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (alice, bob) = (app.browser(), app.browser());
        sign_up(&app, &alice, "alice@example.com").await;
        sign_up(&app, &bob, "bob@example.com").await;
        let alice_id = storage
            .user_by_email("alice@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let bob_id = storage
            .user_by_email("bob@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        for owner in [alice_id, bob_id] {
            common::seed_conversation(&storage, owner, Subject::Math, "문제", &[(Role::User, "질문")]).await;
        }

        // Bob cannot delete Alice's account by naming it.
        let (status, body) = error(
            app.call(&bob, "delete_account", &[("confirm", "alice@example.com")])
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        assert_eq!(
            body,
            json!({"Invalid": [{"field": "Email", "problem": "ConfirmationDiffers"}]})
        );

        let gone = app
            .call(&alice, "delete_account", &[("confirm", "Alice@Example.com")])
            .await;
        assert_eq!(gone.status(), StatusCode::OK, "{backend:?}");
        assert!(
            storage
                .user_by_email("alice@example.com")
                .await
                .unwrap()
                .is_none()
        );
        assert!(storage.conversations(alice_id, 10).await.unwrap().is_empty());
        assert_eq!(me(&app, &alice).await, Value::Null, "signed out");
        assert_eq!(
            storage.conversations(bob_id, 10).await.unwrap().len(),
            1,
            "bob keeps his"
        );
        assert_eq!(me(&app, &bob).await["email"], "bob@example.com");
        storage.close().await;
        app.stop().await;
    }
}

#[tokio::test]
async fn signed_out_visitors_get_401_and_the_sign_in_page() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let anonymous = app.browser();
    let change = [
        ("current", PASSWORD),
        ("password", "whatever whatever"),
        ("confirm", "whatever whatever"),
    ];
    let (status, body) = error(app.call(&anonymous, "change_password", &change).await).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!("Unauthorized")));
    let (status, _) = error(
        app.call(&anonymous, "delete_account", &[("confirm", "x@example.com")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let page = anonymous
        .get(app.url("/profile"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FOUND);
    assert_eq!(page.headers()["location"], "/sign-in?next=/profile");

    sign_up(&app, &anonymous, "now@example.com").await;
    let page = anonymous
        .get(app.url("/profile"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("now@example.com"));
    app.stop().await;
}

/// Posts a form the way a browser does before the page is hydrated.
async fn post_form(
    app: &TestApp,
    client: &Client,
    referer: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let request = client
        .post(app.url("/api/sign_up"))
        .header("accept", "text/html")
        .header("referer", referer);
    request.form(form).send().await.unwrap()
}

#[tokio::test]
async fn plain_html_forms_work_without_javascript() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.browser();
    let referer = app.url("/sign-up?next=/profile");
    let form = [
        ("email", "nojs@example.com"),
        ("password", "short"),
        ("confirm", "short"),
        ("next", "/profile"),
    ];
    let refused = post_form(&app, &client, &referer, &form).await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = refused.headers()["location"].to_str().unwrap().to_string();
    assert!(
        back.contains("/sign-up?next=/profile") && back.contains("__err="),
        "{back}"
    );
    // The page it goes back to shows the field's message, rendered on the server.
    let page = client
        .get(&back)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("비밀번호는 10자 이상이어야 해요."),
        "field error shown"
    );

    let form = [
        ("email", "nojs@example.com"),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("next", "/profile"),
    ];
    let accepted = post_form(&app, &client, &referer, &form).await;
    assert_eq!(accepted.status(), StatusCode::FOUND);
    assert_eq!(accepted.headers()["location"], "/sign-up?sent=1&next=/profile");
    let page = client
        .get(app.url("/sign-up?sent=1&next=/profile"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("확인 메일을 보냈어요"),
        "the page says where to look"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_language_follows_the_browser_and_the_switch() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.browser();
    let english = client
        .get(app.url("/sign-in"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let html = english.text().await.unwrap();
    assert!(
        html.contains(r#"<html lang="en""#) && html.contains("Sign in"),
        "English page"
    );
    let switch = client
        .get(app.url("/lang/ko?next=/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(switch.status(), StatusCode::SEE_OTHER);
    assert_eq!(switch.headers()["location"], "/sign-in");
    let korean = client
        .get(app.url("/sign-in"))
        .header("accept-language", "en-US")
        .send()
        .await
        .unwrap();
    assert!(
        korean.text().await.unwrap().contains(r#"<html lang="ko""#),
        "the cookie wins"
    );
    let evil = client
        .get(app.url("/lang/en?next=https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(evil.headers()["location"], "/", "no open redirect");
    app.stop().await;
}

/// The outside assessment sent 40 guesses at once: all were evaluated (the
/// block was checked before the hash, the failure recorded after it).
#[tokio::test]
async fn parallel_guesses_are_counted_before_the_password_is_checked() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        sign_up(&app, &app.browser(), "parallel@example.com").await;
        let guesses = (0..40).map(|i| {
            let app = &app;
            async move {
                // Strangers: no device cookie. One of them has the password.
                let password = if i == 20 { PASSWORD } else { "a wrong guess here" };
                sign_in(app, &app.browser(), "parallel@example.com", password)
                    .await
                    .status()
            }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let evaluated = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED || **s == StatusCode::OK)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert!(
            evaluated <= 5,
            "{backend:?}: {evaluated} of 40 were checked: {statuses:?}"
        );
        assert_eq!(evaluated + refused, 40, "{statuses:?}");
        app.stop().await;
    }
}

/// Five wrong passwords from anyone locked the real owner out, even with the
/// right password; a browser that signed in to the account before is now
/// limited on its own.
#[tokio::test]
async fn strangers_cannot_lock_the_owner_out() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let owner = app.browser();
        sign_up(&app, &owner, "owner@example.com").await;
        app.call(&owner, "sign_out", &[]).await;

        let stranger = app.browser();
        for _ in 0..6 {
            sign_in(&app, &stranger, "owner@example.com", "let me in please").await;
        }
        // Even the right password is refused to an unknown device while it cools down.
        let (status, _) = error(sign_in(&app, &app.browser(), "owner@example.com", PASSWORD).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}");
        // The owner's browser carries its device cookie and gets in.
        let response = sign_in(&app, &owner, "owner@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(me(&app, &owner).await["email"], "owner@example.com");
        // A device cookie names one account: it does not help with another.
        sign_up(&app, &app.browser(), "second@example.com").await;
        for _ in 0..6 {
            sign_in(&app, &stranger, "second@example.com", "let me in please").await;
        }
        let (status, _) = error(sign_in(&app, &owner, "second@example.com", PASSWORD).await).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        app.stop().await;
    }
}

#[tokio::test]
async fn sign_up_is_rate_limited_per_address() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for i in 0..100 {
        let response = start_sign_up(
            &app,
            &app.browser(),
            &format!("student{i}@school.example"),
            PASSWORD,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "sign-up {i}");
    }
    let (status, body) = error(start_sign_up(&app, &app.browser(), "bot@example.com", PASSWORD).await).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        app.storage()
            .await
            .user_by_email("bot@example.com")
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn guessable_passwords_are_refused_with_the_reason() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (password, problem) in [
        ("password123", "PasswordTooCommon"),
        ("qwertyuiop", "PasswordTooCommon"),
        ("aaaaaaaaaaaa", "PasswordPattern"),
        ("19990101abc", "PasswordDate"),
    ] {
        let form = [
            ("email", "weak@example.com"),
            ("password", password),
            ("confirm", password),
            ("next", "/"),
        ];
        let (status, body) = error(app.call(&app.browser(), "sign_up", &form).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        assert_eq!(
            body,
            json!({"Invalid": [{"field": "Password", "problem": problem}]}),
            "{password}"
        );
    }
    app.stop().await;
}

/// Sign-up only sends a link; nobody is signed in until it is opened and the
/// password entered with it, so an address someone else registered never
/// becomes theirs.
#[tokio::test]
async fn an_email_is_confirmed_by_its_link_and_the_password_together() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let client = app.browser();
        let response = start_sign_up(&app, &client, "new@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(me(&app, &client).await, Value::Null, "not signed in yet");
        let first = app.mail_to("new@example.com", 0).await;
        assert!(
            first.subject.contains("이메일"),
            "Korean by default: {}",
            first.subject
        );
        let old_token = link_parameter(&first, "/sign-in", "verify");

        // Without the link: refused, and the link is sent again.
        let (status, body) = error(sign_in(&app, &client, "new@example.com", PASSWORD).await).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, json!("EmailUnverified")));
        let again = app.mail_to("new@example.com", 1).await;
        assert_ne!(link_parameter(&again, "/sign-in", "verify"), old_token);
        let with = |token: &str, password: &str| {
            let form = [
                ("email", "new@example.com".to_string()),
                ("password", password.to_string()),
                ("next", "/".to_string()),
                ("verify", token.to_string()),
            ];
            app.client.post(app.url("/api/sign_in")).form(&form).send()
        };
        // The link alone (someone who reads the mail but not the password) is not enough.
        assert_eq!(
            with(&old_token, "not the password").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        // Another account's link does not confirm this one.
        start_sign_up(&app, &app.browser(), "other@example.com", PASSWORD).await;
        let others = link_parameter(&app.mail_to("other@example.com", 0).await, "/sign-in", "verify");
        assert_eq!(
            with(&others, PASSWORD).await.unwrap().status(),
            StatusCode::FORBIDDEN
        );

        // Any of the links it was sent works, once.
        let form = [
            ("email", "new@example.com"),
            ("password", PASSWORD),
            ("next", "/"),
            ("verify", old_token.as_str()),
        ];
        assert_eq!(app.call(&client, "sign_in", &form).await.status(), StatusCode::OK);
        assert_eq!(me(&app, &client).await["email"], "new@example.com");
        // Confirmed for good: later sign-ins need no link.
        app.call(&client, "sign_out", &[]).await;
        assert_eq!(
            sign_in(&app, &client, "new@example.com", PASSWORD).await.status(),
            StatusCode::OK
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_mail_once_within_15_minutes() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let laptop = app.signed_up("forgot@example.com").await;
        let seen = app.outbox.to("forgot@example.com").len();

        // Unknown addresses get the same answer and no mail.
        let unknown = app
            .call(
                &app.browser(),
                "forgot_password",
                &[("email", "nobody@example.com")],
            )
            .await;
        let known = app
            .call(
                &app.browser(),
                "forgot_password",
                &[("email", "Forgot@example.com")],
            )
            .await;
        assert_eq!(unknown.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(known.status(), StatusCode::OK);
        assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap());
        let mail = app.mail_to("forgot@example.com", seen).await;
        assert!(app.outbox.to("nobody@example.com").is_empty());
        let token = link_parameter(&mail, "/reset-password", "token");

        let reset = |token: String, password: &'static str| {
            let form = [
                ("token", token),
                ("password", password.into()),
                ("confirm", password.into()),
            ];
            app.client.post(app.url("/api/reset_password")).form(&form).send()
        };
        let (status, body) = error(reset(token.clone(), "password123").await.unwrap()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            reset(token.clone(), "a fresh start for me")
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        // Single use.
        let (status, body) = error(reset(token, "yet another passphrase").await.unwrap()).await;
        assert_eq!((status, body), (StatusCode::GONE, json!("LinkExpired")));
        // Every session ended; only the new password works.
        assert_eq!(me(&app, &laptop).await, Value::Null, "the old session ended");
        assert_eq!(
            sign_in(&app, &app.browser(), "forgot@example.com", PASSWORD)
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            sign_in(&app, &app.browser(), "forgot@example.com", "a fresh start for me")
                .await
                .status(),
            StatusCode::OK
        );

        // A link older than 15 minutes does not work.
        let seen = app.outbox.to("forgot@example.com").len();
        app.call(
            &app.browser(),
            "forgot_password",
            &[("email", "forgot@example.com")],
        )
        .await;
        let token = link_parameter(
            &app.mail_to("forgot@example.com", seen).await,
            "/reset-password",
            "token",
        );
        app.execute("UPDATE email_tokens SET expires_at = expires_at - 15 * 60 * 1000 - 1")
            .await;
        let (status, _) = error(reset(token, "too late for this one").await.unwrap()).await;
        assert_eq!(status, StatusCode::GONE);
        app.stop().await;
    }
}
