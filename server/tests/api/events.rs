//! The answer event stream over HTTP: resuming after a drop, and privacy.

use crate::common;

use common::{Backend, TestApp};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

struct Sse {
    id: Option<usize>,
    event: String,
    data: Value,
}

/// Reads events until `stop` says so (or the stream ends).
async fn read_events(response: reqwest::Response, mut stop: impl FnMut(&[Sse]) -> bool) -> Vec<Sse> {
    let mut body = response.bytes_stream();
    let (mut buffer, mut events) = (Vec::<u8>::new(), Vec::new());
    while let Some(Ok(chunk)) = body.next().await {
        // Bytes first: a network chunk may end inside a multi-byte character.
        buffer.extend_from_slice(&chunk);
        if take_events(&mut buffer, &mut events, &mut stop) {
            return events;
        }
    }
    events
}

/// Moves the whole events at the start of `buffer` into `events`; true as
/// soon as `stop` says so.
fn take_events(buffer: &mut Vec<u8>, events: &mut Vec<Sse>, stop: &mut impl FnMut(&[Sse]) -> bool) -> bool {
    while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
        let raw = String::from_utf8(buffer.drain(..end + 2).collect()).expect("whole events are UTF-8");
        let field = |name: &str| raw.lines().find_map(|l| l.strip_prefix(name)).map(str::to_string);
        if let Some(event) = field("event: ") {
            events.push(Sse {
                id: field("id: ").and_then(|v| v.parse().ok()),
                event,
                data: serde_json::from_str(&field("data: ").unwrap_or_default()).unwrap_or_default(),
            });
            if stop(events) {
                return true;
            }
        }
    }
    false
}

/// Applies an event's HTML patch as the browser does: truncate to `at`, append.
fn apply_html(html: &mut String, event: &Sse) {
    let Some(patch) = event.data.get("html") else {
        return;
    };
    let at = patch["at"].as_u64().unwrap() as usize;
    assert!(
        at <= html.len() && html.is_char_boundary(at),
        "the patch at {at} fits {html:?}"
    );
    html.truncate(at);
    html.push_str(patch["html"].as_str().unwrap());
}

/// The conversation `asked` started, as its owner reads it (stored rows).
async fn stored_conversation(app: &TestApp, client: &reqwest::Client, asked: &Value) -> Value {
    app.call(
        client,
        "conversation",
        &[("id", &asked["conversation"].to_string())],
    )
    .await
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_dropped_stream_resumes_from_the_last_event_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.signed_up("stream@example.com").await;
    let form = [("subject", "math"), ("question", "끊겼다 이어 받기 [[pace:20]]")];
    let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
    let answer = asked["answer"].as_i64().unwrap();
    let url = app.url(&format!("/api/answers/{answer}/events"));

    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    let before = read_events(first, |events| events.len() >= 5).await; // then the connection drops
    let (mut text, mut html) = (String::new(), String::from("<p>what the page had</p>"));
    assert_eq!(
        before[0].data["html"]["at"], 0,
        "a connection's first delta replaces the HTML"
    );
    for event in &before {
        apply_html(&mut html, event);
        let offset = event.data["offset"].as_u64().unwrap() as usize;
        assert_eq!(offset, text.len(), "contiguous");
        text.push_str(event.data["text"].as_str().unwrap());
        assert_eq!(event.id, Some(text.len()));
    }

    let resumed = client
        .get(&url)
        .header("last-event-id", text.len().to_string())
        .send()
        .await
        .unwrap();
    let after = read_events(resumed, |events| events.last().is_some_and(|e| e.event == "done")).await;
    let done = after.last().unwrap();
    assert_eq!(
        (done.event.as_str(), done.data["status"].as_str()),
        ("done", Some("Complete"))
    );
    assert_eq!(
        after[0].data["html"]["at"], 0,
        "so does the first delta after a reconnection"
    );
    for event in after.iter().filter(|e| e.event == "delta") {
        apply_html(&mut html, event);
        let offset = event.data["offset"].as_u64().unwrap() as usize;
        assert_eq!(offset, text.len(), "continues exactly where it stopped");
        text.push_str(event.data["text"].as_str().unwrap());
    }
    let conversation = stored_conversation(&app, &client, &asked).await;
    assert_eq!(
        conversation["messages"][1]["content"].as_str().unwrap(),
        text,
        "byte for byte"
    );
    // The browser renders nothing: the HTML it assembled from the patches is
    // the stored answer as the server renders it.
    assert!(
        html.contains("<p") && !html.contains("what the page had"),
        "{html}"
    );
    assert_eq!(conversation["messages"][1]["html"].as_str().unwrap(), html);

    // A finished answer replays from any offset, then says done.
    let replay = client.get(format!("{url}?from=0")).send().await.unwrap();
    let events = read_events(replay, |_| false).await;
    assert_eq!(events[0].data["text"].as_str().unwrap(), text);
    let mut replayed = String::new();
    events.iter().for_each(|event| apply_html(&mut replayed, event));
    assert_eq!(replayed, html);
    assert_eq!(events.last().unwrap().event, "done");
    app.stop().await;
}

#[tokio::test]
async fn nobody_else_can_read_an_answer() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let owner = app.signed_up("owner@example.com").await;
    let asked: Value = app
        // Slowly, so that it is still streaming (read from memory) below.
        .call(
            &owner,
            "ask",
            &[("subject", "korean"), ("question", "비밀 질문 [[pace:200]]")],
        )
        .await
        .json()
        .await
        .unwrap();
    let (answer, conversation) = (
        asked["answer"].as_i64().unwrap(),
        asked["conversation"].as_i64().unwrap(),
    );
    let url = app.url(&format!("/api/answers/{answer}/events"));

    assert_eq!(
        app.browser().get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let stranger = app.signed_up("stranger@example.com").await;
    assert_eq!(
        stranger.get(&url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let own = owner.get(&url).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    drop(own);
    let still = stored_conversation(&app, &owner, &asked).await;
    assert_eq!(
        still["messages"][1]["status"], "Streaming",
        "the checks above ran while this process generated the answer"
    );
    let id = conversation.to_string();
    let peek = app.call(&stranger, "conversation", &[("id", &id)]).await;
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);
    let follow_up = [
        ("conversation", id.as_str()),
        ("subject", "korean"),
        ("question", "끼어들기"),
    ];
    assert_eq!(
        app.call(&stranger, "ask", &follow_up).await.status(),
        StatusCode::NOT_FOUND
    );
    let stop = app
        .call(&stranger, "stop", &[("answer", &answer.to_string())])
        .await;
    assert_eq!(stop.status(), StatusCode::NOT_FOUND);
    let page = stranger
        .get(app.url(&format!("/c/{conversation}")))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(!page.text().await.unwrap().contains("비밀 질문"));
    let anonymous = app
        .call(&app.browser(), "ask", &[("subject", "korean"), ("question", "x")])
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// A reader that stops reading holds nobody up: the answer is written to
/// the end while it sleeps, another reader gets every byte on time, and the
/// sleeper, once it reads again, gets exactly the stored text. The answer's
/// events (400 KB of text, 40,000 deltas, several MB) are more than the
/// kernel holds for a socket nobody reads (on loopback the server's send
/// buffer starts above a megabyte; the sleeper's receive buffer is a few
/// KB), so the server cannot write to it for most of the answer: the
/// sleeper falls out of the live buffer and is caught up from the text so
/// far, which `weasel_readers_lagged_total` counts. (With 100 KB it never
/// fell behind: everything fitted in the socket's buffers.)
#[tokio::test]
async fn a_reader_that_stops_reading_holds_nobody_up() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics = format!("http://{}/metrics", app.metrics_addr.expect("metrics listener"));
    // The recorder is the process's: other tests' readers may count too.
    let lagged = || async {
        let text = reqwest::get(&metrics).await.unwrap().text().await.unwrap();
        crate::metrics::value(&text, "weasel_readers_lagged_total").unwrap_or(0.0)
    };
    // A browser whose session cookie this test can hand to a raw socket.
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = app
        .sign_up_and_confirm(&client, "sleeper@example.com", common::PASSWORD)
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let form = [
        ("subject", "korean"),
        ("question", "아주 긴 풀이 [[bytes:400000]] [[pace:0]]"),
    ];
    let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
    let answer = asked["answer"].as_i64().unwrap();
    let path = format!("/api/answers/{answer}/events");
    let url = app.url(&path);
    let cookie = {
        use reqwest::cookie::CookieStore;
        jar.cookies(&url.parse().unwrap()).expect("signed in")
    };

    // The sleeper connects first, then reads nothing until the end. HTTP/1.0:
    // the body runs to the connection's close, unchunked.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut sleeper = socket.connect(app.addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: text/event-stream\r\nCookie: {}\r\n\r\n",
        app.addr,
        cookie.to_str().unwrap()
    );
    sleeper.write_all(request.as_bytes()).await.unwrap();
    let awake = client.get(&url).send().await.unwrap();
    let on_time = read_events(awake, |events| events.last().is_some_and(|e| e.event == "done")).await;
    let text_of = |events: &[Sse]| {
        let mut text = String::new();
        for event in events.iter().filter(|e| e.event == "delta") {
            let offset = event.data["offset"].as_u64().unwrap() as usize;
            assert_eq!(offset, text.len(), "contiguous, nothing twice");
            text.push_str(event.data["text"].as_str().unwrap());
        }
        text
    };
    let read_on_time = text_of(&on_time);
    assert!(
        read_on_time.len() > 60_000,
        "a long answer: {} bytes",
        read_on_time.len()
    );

    let conversation = stored_conversation(&app, &client, &asked).await;
    let stored = conversation["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(
        conversation["messages"][1]["status"], "Streaming",
        "written to the end meanwhile"
    );
    assert_eq!(read_on_time, stored);

    let lagged_before = lagged().await;
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), sleeper.read_to_end(&mut raw))
        .await
        .expect("the stream ends after its last event")
        .unwrap();
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    assert!(
        raw.starts_with(b"HTTP/1.0 200"),
        "{}",
        String::from_utf8_lossy(&raw[..head_end])
    );
    let (mut body, mut late) = (raw.split_off(head_end), Vec::new());
    take_events(&mut body, &mut late, &mut |_| false);
    assert_eq!(late.last().unwrap().event, "done");
    assert_eq!(text_of(&late), stored, "the sleeper gets every byte, once");
    assert!(
        late.iter().filter(|e| e.event == "delta").count()
            < on_time.iter().filter(|e| e.event == "delta").count(),
        "the sleeper got the text it missed in one piece"
    );
    assert!(
        lagged().await > lagged_before,
        "the sleeper's catch-up is counted"
    );
    app.stop().await;
}

/// A fast model's answer is not rendered again for every token: its HTML
/// follows the text at most every `RENDER_EVERY`. When the model pauses,
/// the HTML catches up before more text comes. Either way it ends as the
/// stored answer's HTML.
#[tokio::test]
async fn the_html_follows_the_text_a_few_times_a_second() {
    use weasel_server::solve::events::RENDER_EVERY;

    let app = TestApp::spawn(Backend::Sqlite).await;
    let client = app.signed_up("frames@example.com").await;
    for (question, fast) in [
        ("빠른 모델 [[bytes:6000]] [[pace:1]]", true),
        ("느린 모델 [[bytes:120]] [[pace:300]]", false),
    ] {
        let asked: Value = app
            .call(&client, "ask", &[("subject", "korean"), ("question", question)])
            .await
            .json()
            .await
            .unwrap();
        let answer = asked["answer"].as_i64().unwrap();
        let started = std::time::Instant::now();
        let response = client
            .get(app.url(&format!("/api/answers/{answer}/events")))
            .send()
            .await
            .unwrap();
        let events = read_events(response, |events| {
            events.last().is_some_and(|e| e.event == "done")
        })
        .await;
        let elapsed = started.elapsed();
        let deltas: Vec<&Sse> = events.iter().filter(|e| e.event == "delta").collect();
        let (mut text, mut html) = (String::new(), String::new());
        // Whether the last text came without its HTML (and none followed yet).
        let mut html_behind = false;
        for event in &deltas {
            let more = event.data["text"].as_str().unwrap();
            if !fast && !more.is_empty() {
                assert!(
                    !html_behind,
                    "{question}: more text came while the HTML still lacked the text before it"
                );
            }
            text.push_str(more);
            apply_html(&mut html, event);
            let patched = event.data.get("html").is_some();
            html_behind = !patched && (html_behind || !more.is_empty());
        }
        let renders = deltas.iter().filter(|e| e.data.get("html").is_some()).count();
        let text_deltas = deltas.iter().filter(|e| e.data["text"] != "").count();
        if fast {
            // The first delta, one per RENDER_EVERY, and the end.
            let most = (elapsed.as_millis() / RENDER_EVERY.as_millis()) as usize + 2;
            assert!(
                renders <= most && renders < text_deltas,
                "{renders} renders for {text_deltas} deltas in {elapsed:?}"
            );
        }
        let conversation = stored_conversation(&app, &client, &asked).await;
        assert_eq!(conversation["messages"][1]["content"].as_str().unwrap(), text);
        assert_eq!(
            conversation["messages"][1]["html"].as_str().unwrap(),
            html,
            "{question}"
        );
    }
    app.stop().await;
}

/// Deleting a conversation whose answer streams stops the answer first:
/// its end is recorded before its row goes, so the day's reservation is
/// released and the student's day counts it (it had been left generating,
/// paid for and counted nowhere). So does deleting every conversation.
#[tokio::test]
async fn deleting_a_conversation_stops_its_streaming_answer_and_settles_it() {
    use weasel_server::spending;
    for backend in common::BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let client = app.signed_up("deleting@example.com").await;
        let user = storage
            .user_by_email("deleting@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let day = spending::day_of(time::OffsetDateTime::now_utc());
        // Minutes of text at this pace: only a stop ends it in time.
        let form = [
            ("subject", "korean"),
            ("question", "지우면 멈춰요 [[pace:100]] [[bytes:30000]]"),
        ];
        let (mut tokens, mut spent) = (0, 0);
        for endpoint in ["delete_conversation", "delete_all_conversations"] {
            let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
            let answer = asked["answer"].as_i64().unwrap();
            let events = client
                .get(app.url(&format!("/api/answers/{answer}/events")))
                .send()
                .await
                .unwrap();
            let seen = read_events(events, |events| events.len() >= 2).await;
            assert!(seen.iter().all(|e| e.event == "delta"), "{backend:?}: streaming");
            assert!(storage.day_totals(&day).await.unwrap().reserved_micros > 0);

            let id = asked["conversation"].to_string();
            let params: &[(&str, &str)] = if endpoint == "delete_conversation" {
                &[("id", &id)]
            } else {
                &[]
            };
            let deleted = app.call(&client, endpoint, params).await;
            assert_eq!(deleted.status(), StatusCode::OK, "{backend:?} {endpoint}");
            assert!(
                storage.streaming_answers_of(user, None).await.unwrap().is_empty(),
                "{backend:?} {endpoint}: nothing streams"
            );
            assert_eq!(
                storage.day_totals(&day).await.unwrap().reserved_micros,
                0,
                "{backend:?} {endpoint}: the answer ended before its row went, its reservation released"
            );
            // Stopped before the model reported its usage: charged an estimate.
            let used = storage.student_use(user, &day, &day).await.unwrap();
            assert!(
                used.tokens > tokens && used.spent_micros > spent,
                "{backend:?} {endpoint}: the student's day counts what the answer used"
            );
            (tokens, spent) = (used.tokens, used.spent_micros);
            let gone = app.call(&client, "conversation", &[("id", &id)]).await;
            assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{backend:?} {endpoint}");
        }

        // The account, while an answer streams: the same, before its rows go.
        let asked: Value = app.call(&client, "ask", &form).await.json().await.unwrap();
        let answer = asked["answer"].as_i64().unwrap();
        let events = client
            .get(app.url(&format!("/api/answers/{answer}/events")))
            .send()
            .await
            .unwrap();
        read_events(events, |events| events.len() >= 2).await;
        assert!(storage.day_totals(&day).await.unwrap().reserved_micros > 0);
        let deleted = app
            .call(&client, "delete_account", &[("confirm", "deleting@example.com")])
            .await;
        assert_eq!(deleted.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(
            storage.day_totals(&day).await.unwrap().reserved_micros,
            0,
            "{backend:?}: the account's answer ended before the account went"
        );
        assert!(
            storage
                .user_by_email("deleting@example.com")
                .await
                .unwrap()
                .is_none()
        );
        storage.close().await;
        app.stop().await;
    }
}
