//! Photos of problems, end to end over HTTP on both databases: upload,
//! who may see an image, reading it as text, solving with it, sharing and
//! deleting; and the S3 adapter against a real S3-compatible server.

use crate::common;

use std::{io::Cursor, sync::Arc, time::Duration};

use common::{BACKENDS, TestApp};
use reqwest::StatusCode;
use serde_json::Value;
use weasel_server::images::{DirectoryStore, ImageStore, S3Store};

/// A PNG photo of a problem whose strip holds `text` (the emulator reads it).
fn problem_png(text: &str) -> Vec<u8> {
    let image = bedrock_emulator::vision::problem_photo(text, 640, 360);
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(app: &TestApp, client: &reqwest::Client, body: Vec<u8>) -> reqwest::Response {
    client
        .post(app.url("/api/images"))
        .header("accept-language", "ko-KR")
        .body(body)
        .send()
        .await
        .expect("upload")
}

async fn uploaded_id(app: &TestApp, client: &reqwest::Client, body: Vec<u8>) -> String {
    let response = upload(app, client, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let json: Value = response.json().await.unwrap();
    json["id"].as_str().unwrap().to_string()
}

/// Whether every one of `ids` leaves the directory store within five seconds.
async fn swept(ids: &[&str]) -> bool {
    let stored = DirectoryStore::new(common::test_image_dir());
    for _ in 0..100 {
        let mut left = 0;
        for id in ids {
            left += usize::from(stored.get(id).await.unwrap().is_some());
        }
        if left == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The conversation's view, once its last answer has ended.
async fn finished_conversation(app: &TestApp, client: &reqwest::Client, id: i64) -> Value {
    for _ in 0..200 {
        let response = app.call(client, "conversation", &[("id", &id.to_string())]).await;
        let view: Value = response.json().await.unwrap();
        let last = view["messages"].as_array().unwrap().last().cloned().unwrap();
        if last["status"] != "Streaming" {
            return view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the answer did not end");
}

#[tokio::test]
async fn a_photo_is_read_solved_shared_and_deleted_with_its_conversation() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let student = app.signed_up("photo@example.com").await;
        let stranger = app.signed_up("stranger@example.com").await;
        let text = "다음 글을 읽고 물음에 답하시오. 윗글의 내용과 일치하는 것은? ① 가 ② 나";
        let id = uploaded_id(&app, &student, problem_png(text)).await;

        // Only the owner sees it; the answer says what it is and keeps no secrets.
        let own = student
            .get(app.url(&format!("/images/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), StatusCode::OK);
        assert_eq!(own.headers()["content-type"], "image/png");
        assert_eq!(own.headers()["x-content-type-options"], "nosniff");
        assert!(
            own.headers()["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("private")
        );
        for other in [&stranger, &app.browser()] {
            let response = other.get(app.url(&format!("/images/{id}"))).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{backend:?}");
        }

        // Read it first: the transcript streams back as lines of JSON.
        let response = student
            .post(app.url("/api/transcribe"))
            .json(&serde_json::json!({ "images": [id], "subject": "korean" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.text().await.unwrap();
        let mut transcript = String::new();
        let mut ended = false;
        for line in body.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            match event["kind"].as_str() {
                Some("text") => transcript.push_str(event["text"].as_str().unwrap()),
                Some("done") => {
                    assert!(event["message"].is_null(), "{event}");
                    ended = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(ended);
        assert_eq!(transcript, text);
        // A stranger cannot have someone else's photo read.
        let refused = stranger
            .post(app.url("/api/transcribe"))
            .json(&serde_json::json!({ "images": [id], "subject": "korean" }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // The student fixes a word and solves with the checked text and the photo.
        let checked = transcript.replace("일치하는", "일치하지 않는");
        let response = app
            .call(
                &student,
                "ask",
                &[
                    ("subject", "korean"),
                    ("question", &checked),
                    ("images", &id),
                    ("transcribed", "1"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let asked: Value = response.json().await.unwrap();
        let conversation = asked["conversation"].as_i64().unwrap();
        let view = finished_conversation(&app, &student, conversation).await;
        let question = &view["messages"][0];
        assert_eq!(question["images"][0], id.as_str());
        assert_eq!(question["content"], checked.as_str());
        let answer = view["messages"][1]["content"].as_str().unwrap();
        assert!(answer.contains("이미지 1장"), "{answer}");
        assert!(answer.contains("사진에서 읽은 글"), "{answer}");
        // The history shows it beside the conversation.
        let list: Value = app
            .call(&student, "conversations", &[])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["items"][0]["photo"], id.as_str());
        // Sent photos cannot be sent again.
        let again = app
            .call(
                &student,
                "ask",
                &[("subject", "korean"), ("question", "또"), ("images", &id)],
            )
            .await;
        assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);

        // A share link shows the photo to anyone holding it, and only it.
        let token: String = app
            .call(&student, "share", &[("id", &conversation.to_string())])
            .await
            .json()
            .await
            .unwrap();
        let shared = app
            .browser()
            .get(app.url(&format!("/s/{token}/images/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(shared.status(), StatusCode::OK);
        let wrong = app
            .browser()
            .get(app.url(&format!("/s/{}x/images/{id}", &token[1..])))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::NOT_FOUND);

        // Deleting the conversation deletes the photo: gone at once, bytes swept.
        let stored = DirectoryStore::new(common::test_image_dir());
        assert!(stored.get(&id).await.unwrap().is_some());
        let deleted = app
            .call(
                &student,
                "delete_conversation",
                &[("id", &conversation.to_string())],
            )
            .await;
        assert_eq!(deleted.status(), StatusCode::OK);
        let gone = student
            .get(app.url(&format!("/images/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        assert!(
            swept(&[&id]).await,
            "the bytes of a deleted conversation's photo stayed"
        );
        app.stop().await;
    }
}

async fn image_rows(app: &TestApp) -> i64 {
    let storage = app.storage().await;
    let sql = "SELECT COUNT(*) FROM images";
    let count = match &storage {
        weasel_server::storage::Storage::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        weasel_server::storage::Storage::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    };
    storage.close().await;
    count.unwrap()
}

#[tokio::test]
async fn bad_files_get_clear_messages_and_nothing_is_stored() {
    let app = TestApp::spawn(BACKENDS[0]).await;
    let student = app.signed_up("bad-files@example.com").await;
    let text = upload(&app, &student, "사진이 아니라 글이에요".as_bytes().to_vec()).await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let refusal: Value = text.json().await.unwrap();
    assert_eq!(refusal["error"], "not_an_image");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("이미지 파일이 아니에요")
    );
    let huge = upload(&app, &student, vec![0xff; 30 << 20]).await;
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let refusal: Value = huge.json().await.unwrap();
    assert!(refusal["message"].as_str().unwrap().contains("너무 커요"));
    let png = problem_png("잘린 파일");
    let broken = upload(&app, &student, png[..png.len() / 2].to_vec()).await;
    assert_eq!(broken.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(image_rows(&app).await, 0);
    let anonymous = upload(&app, &app.browser(), png.clone()).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // A question takes at most four photos.
    let mut ids = vec![];
    for i in 0..5 {
        ids.push(uploaded_id(&app, &student, problem_png(&format!("사진 {i}"))).await);
    }
    let refused = app
        .call(
            &student,
            "ask",
            &[
                ("subject", "korean"),
                ("question", "풀어 줘"),
                ("images", &ids.join(",")),
            ],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // An upload taken back before sending is no longer served.
    let taken_back = student
        .delete(app.url(&format!("/api/images/{}", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(taken_back.status(), StatusCode::NO_CONTENT);
    let stored = DirectoryStore::new(common::test_image_dir());
    assert_eq!(stored.get(&ids[0]).await.unwrap(), None, "its bytes go at once");
    let gone = student
        .get(app.url(&format!("/images/{}", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The S3 adapter against the S3-compatible server the test scripts start
/// (moto), at `WEASEL_TEST_S3_ENDPOINT` (default http://127.0.0.1:5055).
#[tokio::test]
async fn the_s3_store_keeps_reads_and_deletes_images() {
    let endpoint =
        std::env::var("WEASEL_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into());
    let bucket = format!("weasel-test-{}", std::process::id());
    let store = S3Store::new(
        bucket.clone(),
        "images/".into(),
        Some("ap-northeast-2".into()),
        Some(endpoint.clone()),
        Some(("test".into(), "test".into())),
    )
    .await;
    let created = store
        .client()
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApNortheast2)
                .build(),
        )
        .send()
        .await;
    if let Err(err) = created {
        panic!("no S3-compatible server at {endpoint} (scripts/test.sh starts moto): {err:?}");
    }
    let store: Arc<dyn ImageStore> = Arc::new(store);
    let key = "0123456789abcdef0123456789abcdef";
    let bytes = problem_png("S3에 저장");
    store.put(key, bytes.clone(), "image/png").await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), Some(bytes));
    store.delete(key).await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), None);
    store.delete(key).await.unwrap();
    assert!(store.put("../../etc/passwd", vec![1], "image/png").await.is_err());
}

/// Total prompt tokens (plain, cache read, cache write) of a conversation's last answer.
fn prompt_tokens(view: &Value) -> i64 {
    let usage = &view["messages"].as_array().unwrap().last().unwrap()["usage"];
    ["input_tokens", "cache_read_tokens", "cache_write_tokens"]
        .iter()
        .map(|k| usage[*k].as_i64().unwrap())
        .sum()
}

/// What a follow-up costs in input tokens after a photo question, with and
/// without a checked transcript, on the emulator's usage figures (printed;
/// the saving is asserted).
#[tokio::test]
async fn follow_ups_after_a_checked_transcript_do_not_send_the_photo_again() {
    let app = TestApp::spawn(BACKENDS[0]).await;
    let student = app.signed_up("follow-up-cost@example.com").await;
    let text = "다음 글을 읽고 물음에 답하시오. 윗글의 내용과 일치하는 것은?";
    let photo = || {
        let image = bedrock_emulator::vision::problem_photo(text, 1200, 900);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let photo_tokens = bedrock_emulator::vision::image_tokens(1200, 900) as i64;
    let mut follow_up_tokens = vec![];
    for transcribed in [true, false] {
        let id = uploaded_id(&app, &student, photo()).await;
        let mut form = vec![("subject", "korean"), ("question", text), ("images", id.as_str())];
        if transcribed {
            form.push(("transcribed", "1"));
        }
        let asked: Value = app.call(&student, "ask", &form).await.json().await.unwrap();
        let conversation = asked["conversation"].as_i64().unwrap();
        let first = finished_conversation(&app, &student, conversation).await;
        let conversation_id = conversation.to_string();
        let follow_up = [
            ("conversation", conversation_id.as_str()),
            ("subject", "korean"),
            ("question", "②번은 왜 틀렸나요?"),
        ];
        let response = app.call(&student, "ask", &follow_up).await;
        assert_eq!(response.status(), StatusCode::OK);
        let second = finished_conversation(&app, &student, conversation).await;
        println!(
            "photo {photo_tokens} tokens; transcribed: {transcribed}; first answer's prompt {} tokens, follow-up's {}",
            prompt_tokens(&first),
            prompt_tokens(&second)
        );
        follow_up_tokens.push(prompt_tokens(&second));
    }
    // The transcript's note costs a little text; the photo it replaces costs far more.
    let saved = follow_up_tokens[1] - follow_up_tokens[0];
    println!("a follow-up after a checked transcript sends {saved} fewer prompt tokens");
    assert!(
        saved > photo_tokens * 3 / 4,
        "saved only {saved} of a {photo_tokens}-token photo"
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_an_account_deletes_its_photos() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let email = "leaving@example.com";
        let student = app.signed_up(email).await;
        let sent = uploaded_id(&app, &student, problem_png("보낸 사진")).await;
        let unsent = uploaded_id(&app, &student, problem_png("안 보낸 사진")).await;
        let asked = app
            .call(
                &student,
                "ask",
                &[("subject", "korean"), ("question", "풀어 줘"), ("images", &sent)],
            )
            .await;
        assert_eq!(asked.status(), StatusCode::OK);
        let asked: Value = asked.json().await.unwrap();
        finished_conversation(&app, &student, asked["conversation"].as_i64().unwrap()).await;
        let stored = DirectoryStore::new(common::test_image_dir());
        assert!(stored.get(&sent).await.unwrap().is_some() && stored.get(&unsent).await.unwrap().is_some());

        let deleted = app.call(&student, "delete_account", &[("confirm", email)]).await;
        assert_eq!(deleted.status(), StatusCode::OK, "{backend:?}");
        assert!(
            swept(&[&sent, &unsent]).await,
            "an account's photos outlived it ({backend:?})"
        );
        assert_eq!(image_rows(&app).await, 0);
        app.stop().await;
    }
}
