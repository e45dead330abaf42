//! The conversation list, renaming and deleting, through the server functions.

use crate::common;

use std::collections::HashSet;

use common::{BACKENDS, TestApp, seed_conversation};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use weasel_server::storage::{MessageStatus, NewMessage, Role, Subject, UserId};

async fn signed_up(app: &TestApp, email: &str) -> (Client, UserId) {
    let client = app.signed_up(email).await;
    let user = app
        .storage()
        .await
        .user_by_email(email)
        .await
        .unwrap()
        .unwrap()
        .id;
    (client, user)
}

async fn list(app: &TestApp, client: &Client, cursor: Option<&str>) -> Value {
    let form: Vec<(&str, &str)> = cursor.map(|c| vec![("cursor", c)]).unwrap_or_default();
    let response = app.call(client, "conversations", &form).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_list_is_newest_first_and_pages_through_everything() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (client, user) = signed_up(&app, "many@example.com").await;
        for i in 0..65 {
            storage
                .create_conversation(user, Subject::Math, &format!("문제 {i}"))
                .await
                .unwrap();
        }
        let (_, other) = signed_up(&app, "other@example.com").await;
        storage
            .create_conversation(other, Subject::Math, "남의 문제")
            .await
            .unwrap();

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = list(&app, &client, cursor.as_deref()).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 30, "{backend:?}");
            seen.extend(
                items
                    .iter()
                    .map(|c| (c["updated_at"].as_i64().unwrap(), c["id"].as_i64().unwrap())),
            );
            match page["next"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 65, "{backend:?}: every conversation once");
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 65, "no duplicates");
        assert!(
            seen.windows(2).all(|w| w[0] > w[1]),
            "{backend:?}: newest activity first"
        );

        // Activity moves a conversation to the top.
        let oldest = seen.last().unwrap().1;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let m = NewMessage {
            role: Role::User,
            content: "다시 질문",
            status: MessageStatus::Complete,
        };
        storage
            .append_message(weasel_server::storage::ConversationId(oldest), &m)
            .await
            .unwrap();
        assert_eq!(
            list(&app, &client, None).await["items"][0]["id"].as_i64(),
            Some(oldest)
        );
        storage.close().await;
        app.stop().await;
    }
}

#[tokio::test]
async fn rename_and_delete_only_touch_your_own() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (alice, alice_id) = signed_up(&app, "alice@example.com").await;
        let (bob, _) = signed_up(&app, "bob@example.com").await;
        let conversation = seed_conversation(
            &storage,
            alice_id,
            Subject::Korean,
            "원래 제목",
            &[(Role::User, "질문")],
        )
        .await;
        let id = conversation.id.0.to_string();

        let renamed = app
            .call(&alice, "rename", &[("id", &id), ("title", "  광합성   정리  ")])
            .await;
        assert_eq!(renamed.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(list(&app, &alice, None).await["items"][0]["title"], "광합성 정리");
        let empty = app.call(&alice, "rename", &[("id", &id), ("title", "   ")]).await;
        assert_eq!(empty.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            empty.json::<Value>().await.unwrap(),
            json!({"Invalid": [{"field": "Title", "problem": "Required"}]})
        );
        let long = "가".repeat(101);
        let too_long = app.call(&alice, "rename", &[("id", &id), ("title", &long)]).await;
        assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);

        assert_eq!(
            app.call(&bob, "rename", &[("id", &id), ("title", "탈취")])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.call(&bob, "delete_conversation", &[("id", &id)])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            storage
                .conversation(alice_id, conversation.id)
                .await
                .unwrap()
                .unwrap()
                .title,
            "광합성 정리"
        );

        assert_eq!(
            app.call(&alice, "delete_conversation", &[("id", &id)])
                .await
                .status(),
            StatusCode::OK
        );
        assert!(
            storage
                .conversation(alice_id, conversation.id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            storage.messages(conversation.id).await.unwrap().is_empty(),
            "{backend:?}: messages go too"
        );
        assert_eq!(
            app.call(&alice, "delete_conversation", &[("id", &id)])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let anonymous = app.call(&app.browser(), "conversations", &[]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        storage.close().await;
        app.stop().await;
    }
}

#[tokio::test]
async fn search_finds_korean_inside_words_and_treats_symbols_literally() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (client, user) = signed_up(&app, "search@example.com").await;
        let (stranger, other) = signed_up(&app, "stranger@example.com").await;
        let texts = [
            ("생물", "광합성은 빛 에너지를 화학 에너지로 바꾼다"),
            ("영어", "Photosynthesis in English, 광합성 mixed"),
            ("기호", "확률 100% 문제_풀이 'quote' \"dq\" back\\slash"),
            ("수학", "수학 문제 하나"),
        ];
        for (title, text) in texts {
            seed_conversation(&storage, user, Subject::Other, title, &[(Role::User, text)]).await;
        }
        seed_conversation(
            &storage,
            other,
            Subject::Other,
            "남의 것",
            &[(Role::User, "광합성 비밀")],
        )
        .await;

        let search = |client: Client, query: &'static str| {
            let app = &app;
            async move {
                let response = app.call(&client, "search", &[("query", query)]).await;
                assert_eq!(response.status(), StatusCode::OK, "{query}");
                let hits: Vec<Value> = response.json().await.unwrap();
                hits.into_iter()
                    .map(|h| h["title"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            search(client.clone(), "광합성").await,
            ["영어", "생물"],
            "{backend:?}: particles attached"
        );
        assert_eq!(
            search(client.clone(), "PHOTOSYNTHESIS").await,
            ["영어"],
            "{backend:?}: case-insensitive"
        );
        assert_eq!(
            search(client.clone(), "English, 광합").await,
            ["영어"],
            "{backend:?}: mixed"
        );
        assert_eq!(search(client.clone(), "100%").await, ["기호"], "{backend:?}");
        assert_eq!(
            search(client.clone(), "%").await,
            ["기호"],
            "{backend:?}: % is literal"
        );
        assert_eq!(
            search(client.clone(), "_풀").await,
            ["기호"],
            "{backend:?}: _ is literal"
        );
        assert_eq!(
            search(client.clone(), "'quote' \"dq\"").await,
            ["기호"],
            "{backend:?}: quotes"
        );
        assert_eq!(
            search(client.clone(), "back\\slash").await,
            ["기호"],
            "{backend:?}: backslash"
        );
        assert_eq!(
            search(client.clone(), "수학").await,
            ["수학"],
            "{backend:?}: two characters"
        );
        assert_eq!(
            search(client.clone(), "100% 문제_풀이").await,
            ["기호"],
            "{backend:?}: wildcards inside a longer query are literal"
        );
        assert!(
            search(client.clone(), "100%_문제").await.is_empty(),
            "{backend:?}: every character of the query counts, not only the run the index is asked for"
        );
        assert!(
            search(client.clone(), "화학 에너지를").await.is_empty(),
            "{backend:?}: the words in the query's order"
        );
        assert!(
            search(client.clone(), "없는말입니다").await.is_empty(),
            "{backend:?}"
        );
        assert_eq!(
            search(stranger.clone(), "광합성").await,
            ["남의 것"],
            "{backend:?}: only one's own"
        );

        let response = app.call(&client, "search", &[("query", "광합성")]).await;
        let hits: Vec<Value> = response.json().await.unwrap();
        assert_eq!(hits[1]["matched"], "광합성");
        assert_eq!(hits[1]["after"], "은 빛 에너지를 화학 에너지로 바꾼다");
        assert_eq!(
            app.call(&app.browser(), "search", &[("query", "x")])
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
        storage.close().await;
        app.stop().await;
    }
}

#[tokio::test]
async fn delete_all_removes_only_your_conversations() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (alice, alice_id) = signed_up(&app, "all@example.com").await;
        let (_, bob_id) = signed_up(&app, "keep@example.com").await;
        for owner in [alice_id, alice_id, bob_id] {
            seed_conversation(&storage, owner, Subject::Math, "문제", &[(Role::User, "질문")]).await;
        }
        let response = app.call(&alice, "delete_all_conversations", &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(response.json::<Value>().await.unwrap(), json!(2));
        assert!(storage.conversations(alice_id, 10).await.unwrap().is_empty());
        assert_eq!(
            storage.conversations(bob_id, 10).await.unwrap().len(),
            1,
            "{backend:?}: bob keeps his"
        );
        assert!(
            storage.user_by_email("all@example.com").await.unwrap().is_some(),
            "the account stays"
        );
        let anonymous = app.call(&app.browser(), "delete_all_conversations", &[]).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        storage.close().await;
        app.stop().await;
    }
}

#[tokio::test]
async fn a_share_link_shows_the_conversation_to_anyone_until_revoked() {
    for backend in BACKENDS {
        let app = TestApp::spawn(backend).await;
        let storage = app.storage().await;
        let (alice, alice_id) = signed_up(&app, "sharer@example.com").await;
        let (bob, _) = signed_up(&app, "nosy@example.com").await;
        let turns = [(Role::User, "최댓값은?"), (Role::Assistant, "정답: ③\n\n$$x^2$$")];
        let conversation =
            seed_conversation(&storage, alice_id, Subject::Math, "이차함수 최댓값", &turns).await;
        let id = conversation.id.0.to_string();

        // Only the owner can share, and sharing twice gives the same link.
        let bobs = app.call(&bob, "share", &[("id", &id)]).await;
        assert_eq!(bobs.status(), StatusCode::NOT_FOUND, "{backend:?}");
        let token: String = app
            .call(&alice, "share", &[("id", &id)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(token.len(), 43, "256 random bits, base64url");
        let again: String = app
            .call(&alice, "share", &[("id", &id)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again, token);
        let view: Value = app
            .call(&alice, "conversation", &[("id", &id)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(view["share"], token.as_str());

        // A signed-out visitor reads it, rendered, without the author's email,
        // and search engines are told to keep away.
        let page = app.get(&format!("/s/{token}")).await;
        assert_eq!(page.status(), StatusCode::OK, "{backend:?}");
        assert_eq!(page.headers()["x-robots-tag"], "noindex, nofollow");
        assert_eq!(page.headers()["referrer-policy"], "no-referrer");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("이차함수 최댓값") && html.contains("최댓값은?"),
            "{backend:?}"
        );
        assert!(html.contains("<math"), "math is rendered on the server");
        assert!(html.contains(r#"<meta name="robots" content="noindex, nofollow""#));
        assert!(!html.contains("sharer@example.com"), "no author email");
        // Read-only and made of links: sent without any script to a visitor,
        // with the whole application to someone signed in (their list).
        assert!(
            !html.contains(r#"<script type="module""#),
            "a visitor's share page has no wasm loader"
        );
        assert!(html.contains(r#"data-hydrated="static""#));
        let own = alice.get(app.url(&format!("/s/{token}"))).send().await.unwrap();
        let own = own.text().await.unwrap();
        assert!(
            own.contains(r#"<script type="module""#),
            "a signed-in reader gets the application"
        );
        assert!(own.contains(r#"data-hydrated="false""#));
        let shared: Value = app
            .call(&app.browser(), "shared", &[("token", &token)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(shared["messages"].as_array().unwrap().len(), 2);

        // Nobody else can revoke it; its owner can, and then it is gone for good.
        assert_eq!(
            app.call(&bob, "revoke_share", &[("id", &id)]).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get(&format!("/s/{token}")).await.status(), StatusCode::OK);
        assert_eq!(
            app.call(&alice, "revoke_share", &[("id", &id)]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get(&format!("/s/{token}")).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.call(&app.browser(), "shared", &[("token", &token)])
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let fresh: String = app
            .call(&alice, "share", &[("id", &id)])
            .await
            .json()
            .await
            .unwrap();
        assert_ne!(fresh, token, "sharing again makes a new link");
        assert_eq!(
            app.get(&format!("/s/{token}")).await.status(),
            StatusCode::NOT_FOUND
        );

        // Unknown and malformed tokens are the same 404; deleting the
        // conversation ends its link too.
        assert_eq!(
            app.get(&format!("/s/{}", "A".repeat(43))).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get("/s/%25%27%22").await.status(), StatusCode::NOT_FOUND);
        app.call(&alice, "delete_conversation", &[("id", &id)]).await;
        assert_eq!(
            app.get(&format!("/s/{fresh}")).await.status(),
            StatusCode::NOT_FOUND
        );
        storage.close().await;
        app.stop().await;
    }
}
