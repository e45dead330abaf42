//! `/metrics`: Prometheus text on its own listener, never on the public port.

use crate::common;

use std::time::Duration;

use common::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::Value;

/// Reads `/metrics` until `wanted` appears (answers finish in the background).
async fn scrape_until(url: &str, wanted: &[&str]) -> String {
    scrape_until_true(url, |text| wanted.iter().all(|w| text.contains(w))).await
}

/// Reads `/metrics` until `ready` says so. The recorder is the process's,
/// shared by every test's app: a series can be there already, from another
/// test, before this test's own answer has counted in it.
async fn scrape_until_true(url: &str, ready: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = reqwest::get(url).await.unwrap().text().await.unwrap();
        if ready(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not there after 10 s:\n{text}");
}

/// The value of `series`, if it is there.
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn sample(text: &str, series: &str) -> f64 {
    value(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

#[tokio::test]
async fn requests_answers_and_the_pool_are_measured_privately() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics = format!("http://{}/metrics", app.metrics_addr.expect("metrics listener"));

    // Not served to the public, whatever the path.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);

    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let client = app.signed_up("metrics@example.com").await;
    let form = [("subject", "math"), ("question", "이차방정식의 두 근의 합은?")];
    let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
    assert!(asked["answer"].as_i64().is_some(), "{asked}");
    let conversation = format!("/c/{}", asked["conversation"]);
    let page = client.get(app.url(&conversation)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);

    scrape_until(
        &metrics,
        &[
            r#"weasel_answers_total{status="complete"}"#,
            "weasel_time_to_first_token_seconds_bucket",
        ],
    )
    .await;
    let text = scrape_until_true(&metrics, |text| {
        ["output", "input"].iter().all(|direction| {
            value(
                text,
                &format!("weasel_model_tokens_total{{direction=\"{direction}\"}}"),
            )
            .is_some_and(|n| n > 0.0)
        })
    })
    .await;
    assert!(
        text.contains("# TYPE weasel_http_requests_total counter"),
        "{text}"
    );
    // Labelled by route pattern, not by the id in the URL.
    assert!(
        sample(
            &text,
            r#"weasel_http_requests_total{method="GET",route="/c/{id}",status="200"}"#
        ) >= 1.0
    );
    assert!(
        !text.contains(&format!("route=\"{conversation}\"")),
        "ids never become labels"
    );
    assert!(
        sample(
            &text,
            r#"weasel_http_requests_total{method="GET",route="/readyz",status="200"}"#
        ) >= 1.0
    );
    assert!(
        text.contains(
            r#"weasel_http_request_duration_seconds_bucket{method="GET",route="/readyz",le="0.005"}"#
        )
    );
    assert!(
        text.contains(r#"weasel_db_pool_connections{state="idle"}"#),
        "{text}"
    );
    assert!(text.contains("weasel_answers_streaming"), "{text}");
    // The ask wrote: how long it waited for SQLite's writer, and held it.
    for histogram in [
        "weasel_db_write_wait_seconds_count",
        "weasel_db_writer_held_seconds_count",
    ] {
        assert!(sample(&text, histogram) >= 1.0, "{histogram}: {text}");
    }

    // A throttled answer is counted by kind.
    let form = [("subject", "math"), ("question", "[[fault:throttle]] 다시")];
    let _: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
    let text = scrape_until(&metrics, &[r#"weasel_model_errors_total{kind="throttled"}"#]).await;
    assert!(sample(&text, r#"weasel_model_errors_total{kind="throttled"}"#) >= 1.0);
    app.stop().await;
}

#[tokio::test]
async fn the_day_s_spending_and_the_budget_left_are_exported() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
        s.spending.limits.budget_micros = 5_000_000;
    })
    .await;
    let metrics = format!("http://{}/metrics", app.metrics_addr.expect("metrics listener"));
    let client = app.signed_up("spender@example.com").await;
    let form = [("subject", "korean"), ("question", "비용을 세어 보는 질문")];
    let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
    assert!(asked["answer"].as_i64().is_some(), "{asked}");
    scrape_until(&metrics, &[r#"weasel_answers_total{status="complete"}"#]).await;
    // The recorder is the process's, shared with the other tests' apps, and
    // these gauges are set from each app's database as it is scraped: read
    // until a scrape shows this app's day (its budget, its spending).
    let mut seen = String::new();
    for _ in 0..100 {
        let text = scrape_until(
            &metrics,
            &["weasel_spend_usd_today", "weasel_budget_usd_remaining"],
        )
        .await;
        let (spent, budget) = (
            sample(&text, "weasel_spend_usd_today "),
            sample(&text, "weasel_budget_usd_daily "),
        );
        let left = sample(&text, "weasel_budget_usd_remaining ");
        if budget == 5.0 && spent > 0.0 && spent < 0.1 && (left - (5.0 - spent)).abs() < 1e-6 {
            assert!(sample(&text, "weasel_answer_cost_microdollars_total ") > 0.0);
            return;
        }
        seen = text;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("today's spending and the budget left never showed:\n{seen}");
}
