//! The real application over HTTP, on both backends.

use crate::common;

use common::{BACKENDS, TestApp};
use reqwest::StatusCode;

#[tokio::test]
async fn health_and_readiness() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let health = app.get("/healthz").await;
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK, "{backend:?}");
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["database"], "ok");
        app.stop().await;
    }
}

#[tokio::test]
async fn home_page_is_rendered_on_the_server() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains(r#"<html lang="ko""#), "lang attribute");
        assert!(html.contains("<title>Weasel</title>"), "title");
        assert!(html.contains("정답부터, 그다음 풀이까지."), "hero text");
        assert!(html.contains("/pkg/weasel.js"), "hydration script");
        assert!(html.contains("/pkg/weasel.css"), "stylesheet");
        // Visitors are offered to sign up; operators' details stay off the page.
        assert!(html.contains(r#"href="/sign-up""#), "a sign-up link");
        assert!(
            !html.contains("SQLite") && !html.contains("PostgreSQL"),
            "no database name on the page"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_status_server_function_answers_json() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/api/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["database"], "Sqlite");
    assert_eq!(status["database_ok"], true);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

#[tokio::test]
async fn unknown_urls_get_a_real_404_page() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains("페이지를 찾을 수 없어요"), "{html}");
    assert!(html.contains("<title>페이지를 찾을 수 없어요 · Weasel</title>"));
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let made_up = app.get("/healthz").await;
    let id = made_up.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-me-42");
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn(common::Backend::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    // Dropping the database out from under the running server.
    let db = app.database.as_ref().unwrap().url.clone();
    let name = db.rsplit('/').next().unwrap().to_string();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&common::postgres_admin_url())
        .await
        .unwrap();
    sqlx::Executor::execute(
        &mut admin,
        format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#).as_str(),
    )
    .await
    .unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Liveness is about the process, not its dependencies.
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await;
}

/// A database that answers but refuses writes (PostgreSQL turned
/// read-only) fails readiness within a heartbeat; writable again, it passes.
#[tokio::test]
async fn readiness_fails_while_the_database_refuses_writes() {
    let app = TestApp::spawn_with(common::Backend::Postgres, |settings| {
        settings.replica.lease = std::time::Duration::from_secs(3);
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let name = app
        .database
        .as_ref()
        .unwrap()
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&common::postgres_admin_url())
        .await
        .unwrap();
    let set_read_only = |on: bool| {
        format!(
            r#"ALTER DATABASE "{name}" SET default_transaction_read_only = {}"#,
            if on { "on" } else { "off" }
        )
    };
    // New connections take the setting; the app's current ones are ended.
    let reconnect =
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'");
    for sql in [set_read_only(true), reconnect.clone()] {
        sqlx::Executor::execute(&mut admin, sql.as_str()).await.unwrap();
    }
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = app.get("/readyz").await.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready while writes fail"
    );
    let body: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["database"], "read-only");
    for sql in [set_read_only(false), reconnect] {
        sqlx::Executor::execute(&mut admin, sql.as_str()).await.unwrap();
    }
    for _ in 0..50 {
        status = app.get("/readyz").await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "ready again once writes work");
    app.stop().await;
}

#[tokio::test]
async fn pages_answer_200_to_visitors_and_to_signed_in_users() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    for path in ["/", "/sign-in", "/sign-up"] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::OK,
            "{path} for a visitor"
        );
    }
    let client = app.signed_up("pages@example.com").await;
    for path in ["/", "/profile"] {
        let response = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path} signed in");
    }
    app.stop().await;
}

/// Building an application renders it once with resource loading switched
/// off process-wide (leptos_server's `SuppressResourceLoad`); pages of the
/// other applications in the process must still finish. `startup` works the
/// routes out once per process so the two never overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_finish_while_other_applications_start() {
    let mut apps = Vec::new();
    for _ in 0..6 {
        apps.push(tokio::spawn(async {
            let app = TestApp::spawn(common::Backend::Sqlite).await;
            for path in ["/", "/sign-in", "/sign-up?next=/profile", "/no-such-page"] {
                let page = tokio::time::timeout(std::time::Duration::from_secs(20), async {
                    app.get(path).await.text().await.unwrap()
                })
                .await
                .unwrap_or_else(|_| panic!("{path} never finished"));
                assert!(page.contains("</html>"), "{path} is complete");
            }
            app.stop().await;
        }));
    }
    for app in apps {
        app.await.unwrap();
    }
}

/// The page's scripts carry the nonce its Content-Security-Policy allows, a
/// new one every response; every response says nosniff and no framing.
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = app.get("/").await;
        let headers = response.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap().to_string();
        let html = response.text().await.unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the policy")
            .to_string();
        assert!(nonce.len() >= 22, "{nonce}");
        for directive in [
            "'strict-dynamic'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} in {csp}");
        }
        assert!(
            !csp.split(';')
                .any(|d| d.contains("script-src") && d.contains("unsafe-inline"))
        );
        let scripts = html.matches("<script").count();
        assert!(scripts >= 1, "{html}");
        assert_eq!(
            html.matches(&format!("<script type=\"module\" nonce=\"{nonce}\""))
                .count()
                + html.matches(&format!("<script nonce=\"{nonce}\"")).count(),
            scripts,
            "every script carries this response's nonce"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers.contains_key("referrer-policy"));
        assert!(!headers.contains_key("strict-transport-security"), "plain http");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a new nonce every response");
    for path in ["/healthz", "/pkg/weasel.css", "/no/such/page"] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        assert!(
            response.headers().contains_key("content-security-policy"),
            "{path}"
        );
    }
    app.stop().await;

    let https = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.public_url = "https://weasel.example/".parse().unwrap();
    })
    .await;
    let response = https.get("/healthz").await;
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=31536000")
    );
    https.stop().await;
}

/// `/` + TAB + `/evil.example` was followed by browsers as `//evil.example`;
/// control characters in `next` dropped the connection.
#[tokio::test]
async fn redirect_targets_stay_on_this_site() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    for next in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/%0d%0aSet-Cookie:%20x=1",
        "//evil.example",
        "/%5Cevil.example",
    ] {
        let response = app.get(&format!("/lang/en?next={next}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(response.headers()["location"], "/", "{next}");
    }
    // The sign-in form without JavaScript, with control characters in `next`.
    let client = app.signed_up("redirect@example.com").await;
    app.call(&client, "sign_out", &[]).await;
    for next in ["/\t/evil.example", "/\r\nSet-Cookie: x=1", "/\u{1}"] {
        let response = client
            .post(app.url("/api/sign_in"))
            .header("accept", "text/html")
            .form(&[
                ("email", "redirect@example.com"),
                ("password", "correct horse battery"),
                ("next", next),
            ])
            .send()
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(response.headers()["location"], "/", "{next:?}");
        app.call(&client, "sign_out", &[]).await;
    }
    app.stop().await;
}

/// A client that does not ask for HTML got 200 and a Location header.
#[tokio::test]
async fn signed_out_pages_redirect_whatever_the_client_accepts() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    for path in ["/profile", "/c/1", "/search?q=x"] {
        for accept in [None, Some("*/*"), Some("text/html")] {
            let mut request = app.client.get(app.url(path));
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FOUND, "{path} {accept:?}");
            assert!(
                response.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with("/sign-in?next="),
                "{path}"
            );
        }
    }
    app.stop().await;
}

/// Every malformed body was a 500 ("deserializing server function
/// results"); NUL bytes reached PostgreSQL. Now each is a 4xx with an error
/// the page words in the reader's language, and nothing is written.
#[tokio::test]
async fn malformed_requests_are_4xx_and_write_nothing() {
    for backend in common::BACKENDS {
        let app = TestApp::spawn(backend).await;
        let client = app.signed_up("input@example.com").await;
        let post = |function: &str, content_type: &str, body: Vec<u8>| {
            client
                .post(app.url(&format!("/api/{function}")))
                .header("content-type", content_type.to_string())
                .body(body)
                .send()
        };
        let form = "application/x-www-form-urlencoded";
        let cases: Vec<(&str, &str, Vec<u8>, StatusCode, serde_json::Value)> = vec![
            (
                "conversation",
                form,
                b"id=abc".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "conversation",
                form,
                b"id=99999999999999999999".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                form,
                b"subject=math".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                "application/json",
                br#"{"subject":"math","question":"x"}"#.to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                form,
                b"subject=math&question=%FF%FE".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                form,
                b"subject=math&question=a\xff\xfeb".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                form,
                b"subject=math&question=a%00b".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "rename",
                form,
                b"id=1&title=a%00".to_vec(),
                StatusCode::BAD_REQUEST,
                serde_json::json!("BadRequest"),
            ),
            (
                "ask",
                form,
                [b"subject=math&question=".as_slice(), &vec![b'x'; 3 * 1024 * 1024]].concat(),
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!("TooLarge"),
            ),
        ];
        for (function, content_type, body, status, error) in cases {
            let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
            let response = post(function, content_type, body).await.unwrap();
            assert_eq!(response.status(), status, "{backend:?} {function} {shown}");
            assert_eq!(
                response.json::<serde_json::Value>().await.unwrap(),
                error,
                "{function} {shown}"
            );
        }
        let me = app
            .storage()
            .await
            .user_by_email("input@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(
            app.storage()
                .await
                .conversations(me.id, 10)
                .await
                .unwrap()
                .is_empty(),
            "{backend:?}: nothing written"
        );
        app.stop().await;
    }
}

/// The browser bundle as `scripts/build-site.sh` leaves it: a directory
/// named after a hash (`output-name` says `<hash>/weasel`), its files served
/// precompressed and kept for a year.
#[tokio::test]
async fn the_bundle_is_served_precompressed_under_hashed_names() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg").join("0123abcd");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(site.path().join("output-name"), "0123abcd/weasel\n").unwrap();
    std::fs::write(pkg.join("weasel.css"), "body{color:red}").unwrap();
    std::fs::write(pkg.join("weasel.css.br"), b"brotli bytes").unwrap();
    std::fs::write(pkg.join("weasel.css.gz"), b"gzip bytes").unwrap();
    let root = site.path().to_path_buf();
    let app = TestApp::spawn_with(common::Backend::Sqlite, move |s| s.site_root = root).await;

    let html = app.get("/").await.text().await.unwrap();
    assert!(
        html.contains(r#"href="/pkg/0123abcd/weasel.css""#),
        "the page names the hashed stylesheet"
    );
    assert!(html.contains("/pkg/0123abcd/weasel.js"), "and the hashed script");
    assert!(
        html.contains("/pkg/0123abcd/weasel_bg.wasm"),
        "and the hashed wasm"
    );

    let css = |encoding: &'static str| {
        app.client
            .get(app.url("/pkg/0123abcd/weasel.css"))
            .header("accept-encoding", encoding)
            .send()
    };
    let br = css("gzip, deflate, br").await.unwrap();
    assert_eq!(br.status(), StatusCode::OK);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(
        br.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        br.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_eq!(
        br.bytes().await.unwrap().as_ref(),
        b"brotli bytes",
        "sent as stored, not compressed again"
    );
    let gz = css("gzip").await.unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.bytes().await.unwrap().as_ref(), b"gzip bytes");
    let plain = css("identity").await.unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.bytes().await.unwrap().as_ref(), b"body{color:red}");
    assert_eq!(app.get("/pkg/weasel.css").await.status(), StatusCode::NOT_FOUND);
    app.stop().await;

    // A name that could leave `pkg/` is not taken: the unhashed names are.
    for bad in [
        "../weasel",
        "../0123abcd/weasel",
        "0123abcd/../weasel",
        "a/b/weasel",
        "/weasel",
    ] {
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join("output-name"), bad).unwrap();
        let root = site.path().to_path_buf();
        let app = TestApp::spawn_with(common::Backend::Sqlite, move |s| s.site_root = root).await;
        let html = app.get("/").await.text().await.unwrap();
        assert!(html.contains(r#"href="/pkg/weasel.css""#), "{bad}: {html}");
        app.stop().await;
    }
}

/// When the session store fails (here its table is gone), a signed-in
/// visitor gets 503 with `Retry-After` and a message in their language (a
/// page, or a server function's JSON error), never a blank 500.
#[tokio::test]
async fn a_failing_session_store_is_explained_not_a_blank_page() {
    // Without the moment's cache of sessions, every request reads the store
    // (with it, the failure shows once the copy is a few seconds old).
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.session.cache = std::time::Duration::ZERO
    })
    .await;
    let student = app.signed_up("store@example.com").await;
    app.execute("ALTER TABLE tower_sessions RENAME TO tower_sessions_gone")
        .await;
    let page = student
        .get(app.url("/profile"))
        .header("accept-language", "ko-KR,ko;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "5");
    let body = page.text().await.unwrap();
    assert!(
        body.contains("lang=\"ko\"")
            && body.contains("서버에 문제가 생겼어요")
            && body.contains("href=\"/profile\""),
        "{body}"
    );
    let api = student
        .post(app.url("/api/status"))
        .header("accept-language", "en-US")
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(api.headers()["content-type"], "application/json");
    let error: app::error::AppError = api.json().await.unwrap();
    assert_eq!(error, app::error::AppError::Internal);
    // Restored, the same visitor is signed in as before.
    app.execute("ALTER TABLE tower_sessions_gone RENAME TO tower_sessions")
        .await;
    assert_eq!(
        student.get(app.url("/profile")).send().await.unwrap().status(),
        StatusCode::OK
    );
    app.stop().await;
}
