//! The real application over HTTP, on both backends.

mod common;

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
        // The status line comes from a server function, resolved during SSR.
        let label = if backend == common::Backend::Sqlite {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        assert!(
            html.contains(&format!("· {label} · 정상")),
            "status line for {backend:?}"
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
