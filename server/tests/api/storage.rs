//! The storage layer on SQLite and PostgreSQL alike.

use crate::common;

use common::{BACKENDS, Backend, TestDatabase, on_each_backend};
use weasel_server::storage::{
    ConversationId, Message, MessageId, MessageStatus, NewMessage, NewUser, Role, Storage, StorageError,
    Subject, UserId,
};

async fn user(storage: &Storage, email: &str) -> UserId {
    let new = NewUser {
        email,
        display_name: "학생",
        password_hash: None,
        email_verified: true,
    };
    storage.create_user(&new).await.expect("create user").id
}

fn question(content: &str) -> NewMessage<'_> {
    NewMessage {
        role: Role::User,
        content,
        status: MessageStatus::Complete,
    }
}

/// At least `bytes` bytes of mixed Korean, emoji and ASCII.
fn long_text(bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 64);
    let mut line = 0;
    while text.len() < bytes {
        line += 1;
        text.push_str(&format!(
            "{line}. 수능 국어 지문을 읽고 🧠 Math $x^2$ 답하시오.\n"
        ));
    }
    text
}

#[tokio::test]
async fn text_round_trips_exactly() {
    on_each_backend(|backend, storage| async move {
        let samples = [
            "다음 글의 주제로 가장 적절한 것은? 광합성은 빛 에너지를 화학 에너지로 바꾼다.".to_string(),
            "emoji 🦦👩🏽‍🎓🇰🇷 and combining: e\u{301} 한\u{1100}\u{1161}".to_string(),
            "quotes ' \" ` backslash \\ percent % underscore _ NUL-free\ttab\r\nCRLF".to_string(),
            long_text(100 * 1024),
        ];
        let owner = user(&storage, "roundtrip@example.com").await;
        for sample in &samples {
            let conversation = storage
                .create_conversation(owner, Subject::Korean, sample)
                .await
                .unwrap();
            assert_eq!(&conversation.title, sample, "{backend:?}: title");
            let written = storage
                .append_message(conversation.id, &question(sample))
                .await
                .unwrap();
            let read = storage.messages(conversation.id).await.unwrap();
            assert_eq!(read, vec![written], "{backend:?}");
            assert_eq!(&read[0].content, sample, "{backend:?}: {} bytes", sample.len());
        }
    })
    .await;
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_not_a_crash() {
    on_each_backend(|backend, storage| async move {
        user(&storage, "same@example.com").await;
        let again = NewUser {
            email: "same@example.com",
            display_name: "other",
            password_hash: None,
            email_verified: true,
        };
        let err = storage.create_user(&again).await.unwrap_err();
        assert!(matches!(err, StorageError::Conflict(_)), "{backend:?}: {err:?}");
        assert!(storage.user_by_email("same@example.com").await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn conversations_are_private_and_ordered_by_activity() {
    on_each_backend(|backend, storage| async move {
        let alice = user(&storage, "alice@example.com").await;
        let bob = user(&storage, "bob@example.com").await;
        let first = storage
            .create_conversation(alice, Subject::Math, "첫 문제")
            .await
            .unwrap();
        let second = storage
            .create_conversation(alice, Subject::English, "둘째 문제")
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        // New activity in the first brings it back to the top.
        storage
            .append_message(first.id, &question("follow-up"))
            .await
            .unwrap();

        let titles: Vec<_> = storage
            .conversations(alice, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.title)
            .collect();
        assert_eq!(titles, ["첫 문제", "둘째 문제"], "{backend:?}");
        assert!(
            storage.conversations(bob, 10).await.unwrap().is_empty(),
            "{backend:?}"
        );
        assert_eq!(
            storage.conversation(bob, second.id).await.unwrap(),
            None,
            "{backend:?}: bob sees alice's"
        );
        assert_eq!(
            storage
                .conversation(alice, second.id)
                .await
                .unwrap()
                .map(|c| c.id),
            Some(second.id)
        );
        assert_eq!(storage.conversations(alice, 1).await.unwrap().len(), 1, "limit");
    })
    .await;
}

#[tokio::test]
async fn deleting_a_user_removes_their_conversations_and_messages() {
    on_each_backend(|backend, storage| async move {
        let alice = user(&storage, "gone@example.com").await;
        let kept = user(&storage, "kept@example.com").await;
        let hers = storage
            .create_conversation(alice, Subject::Other, "x")
            .await
            .unwrap();
        storage.append_message(hers.id, &question("q")).await.unwrap();
        let his = storage
            .create_conversation(kept, Subject::Other, "y")
            .await
            .unwrap();
        storage.append_message(his.id, &question("q")).await.unwrap();

        storage.delete_user(alice).await.unwrap();
        assert!(storage.messages(hers.id).await.unwrap().is_empty(), "{backend:?}");
        assert!(
            storage.conversations(alice, 10).await.unwrap().is_empty(),
            "{backend:?}"
        );
        assert_eq!(
            storage.messages(his.id).await.unwrap().len(),
            1,
            "{backend:?}: others untouched"
        );
        assert!(matches!(
            storage.delete_user(alice).await,
            Err(StorageError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn a_message_for_a_missing_conversation_writes_nothing() {
    on_each_backend(|backend, storage| async move {
        let missing = weasel_server::storage::ConversationId(987_654);
        let err = storage
            .append_message(missing, &question("lost?"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::NotFound("conversation")),
            "{backend:?}: {err:?}"
        );
        assert!(storage.messages(missing).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent_across_restarts() {
    for backend in BACKENDS {
        let db = TestDatabase::create(backend).await;
        let first = db.storage().await;
        let id = user(&first, "persist@example.com").await;
        first.close().await;
        // A second start (a restart, or another replica) migrates nothing and keeps data.
        let second = db.storage().await;
        let found = second
            .user_by_email("persist@example.com")
            .await
            .unwrap()
            .map(|u| u.id);
        assert_eq!(found, Some(id), "{backend:?}");
        second.close().await;
        if backend == Backend::Sqlite {
            assert!(
                db.url.contains("nested/weasel.db"),
                "the SQLite directory was created"
            );
        }
    }
}

/// A new SQLite file is made of small pages, so that a question's
/// transaction writes a quarter of the bytes; a file made before, with
/// SQLite's default pages, is used as it is.
#[tokio::test]
async fn a_new_sqlite_file_has_small_pages_and_an_older_file_keeps_its_own() {
    use sqlx::{Connection, Executor, sqlite::SqliteConnectOptions};
    use std::str::FromStr;

    async fn pragma(storage: &Storage, name: &str) -> i64 {
        let Storage::Sqlite(pool) = storage else {
            unreachable!()
        };
        sqlx::query_scalar(&format!("PRAGMA {name}"))
            .fetch_one(pool)
            .await
            .unwrap()
    }

    let new = TestDatabase::create(Backend::Sqlite).await;
    let storage = new.storage().await;
    user(&storage, "new@example.com").await;
    assert_eq!(
        pragma(&storage, "page_size").await,
        i64::from(weasel_server::storage::SQLITE_PAGE_SIZE)
    );
    assert_eq!(pragma(&storage, "wal_autocheckpoint").await, 10_000);
    storage.close().await;

    let old = TestDatabase::create(Backend::Sqlite).await;
    let options = SqliteConnectOptions::from_str(&old.url).unwrap();
    std::fs::create_dir_all(options.get_filename().parent().unwrap()).unwrap();
    let mut made_before = sqlx::SqliteConnection::connect_with(
        &options
            .page_size(4096)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
    )
    .await
    .unwrap();
    made_before
        .execute("CREATE TABLE made_before (id INTEGER PRIMARY KEY)")
        .await
        .unwrap();
    made_before.close().await.unwrap();
    let storage = old.storage().await;
    let id = user(&storage, "old@example.com").await;
    assert_eq!(pragma(&storage, "page_size").await, 4096);
    assert_eq!(
        storage
            .user_by_email("old@example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(id)
    );
    storage.close().await;
}

/// A file made before the search index dropped its positions (migration
/// `0013`) is rebuilt once: every stored message is found, what was still
/// waiting for the index too, an answer that was streaming is found by its
/// final text, and the index agrees with the messages.
#[tokio::test]
async fn an_older_search_index_is_rebuilt_without_losing_a_message() {
    use weasel_server::storage::AnswerOutcome;
    let database = TestDatabase::create(Backend::Sqlite).await;
    let storage = database.storage().await;
    let owner = user(&storage, "rebuilt@example.com").await;
    let (_, _, indexed_answer) = asked(&storage, owner, "생물", "광합성은 어디서 일어나나요?").await;
    let outcome = AnswerOutcome {
        content: "정답: 엽록체에서 일어나요.".into(),
        ..Default::default()
    };
    storage
        .finish_answer(indexed_answer, MessageStatus::Complete, &outcome)
        .await
        .unwrap();
    storage.index_backlog().await.unwrap();
    let (_, _, streaming) = asked(&storage, owner, "화학", "산화 환원 반응이란?").await;
    let Storage::Sqlite(pool) = &storage else {
        unreachable!()
    };
    // The file as the version before made it: the index with positions,
    // holding what was indexed then, and `0013` not applied.
    for statement in [
        "DROP TABLE messages_search",
        "CREATE VIRTUAL TABLE messages_search USING fts5(content, content = 'messages', content_rowid = 'id', tokenize = 'trigram')",
        "INSERT INTO messages_search (rowid, content)
         SELECT id, content FROM messages WHERE id NOT IN (SELECT message_id FROM search_backlog)",
        "DELETE FROM _sqlx_migrations WHERE version = 13",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
    storage.close().await;

    let storage = database.storage().await;
    let Storage::Sqlite(pool) = &storage else {
        unreachable!()
    };
    let definition: String =
        sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = 'messages_search'")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(definition.contains("detail = 'none'"), "{definition}");
    let found = |query: &'static str| {
        let storage = storage.clone();
        async move {
            storage
                .search_messages(owner, query, 20)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.content)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("광합성").await, ["광합성은 어디서 일어나나요?"]);
    assert_eq!(found("엽록체").await, ["정답: 엽록체에서 일어나요."]);
    assert_eq!(found("환원 반응").await, ["산화 환원 반응이란?"]);
    let outcome = AnswerOutcome {
        content: "정답: 전자를 주고받는 반응이에요.".into(),
        ..Default::default()
    };
    storage
        .finish_answer(streaming, MessageStatus::Complete, &outcome)
        .await
        .unwrap();
    assert_eq!(found("주고받는").await, ["정답: 전자를 주고받는 반응이에요."]);
    storage.index_backlog().await.unwrap();
    sqlx::query("INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)")
        .execute(pool)
        .await
        .expect("the rebuilt index holds exactly the messages' text");
    storage.close().await;
}

/// A database that cannot take the work in time (every connection busy)
/// is "overloaded": the student is told to send it again (503), not that
/// the server broke (500).
#[tokio::test]
async fn a_database_with_no_free_connection_is_busy_not_broken() {
    let database = TestDatabase::create(Backend::Sqlite).await;
    let mut settings = database.settings();
    settings.max_connections = 1;
    let storage = Storage::connect(&settings).await.unwrap();
    let Storage::Sqlite(pool) = &storage else {
        unreachable!()
    };
    let held = pool.acquire().await.unwrap();
    let err = storage.ping().await.unwrap_err();
    assert!(err.is_overloaded(), "{err}");
    assert_eq!(
        app::error::AppError::from(weasel_server::solve::SolveError::Storage(err)),
        app::error::AppError::Busy
    );
    drop(held);
    storage.ping().await.unwrap();
    let other = weasel_server::storage::StorageError::NotFound("answer");
    assert!(!other.is_overloaded());
}

/// A new conversation of `owner` titled `title`, asking `text`, with its
/// answer started (streaming): the conversation, the question, the answer.
async fn asked(
    storage: &Storage,
    owner: UserId,
    title: &str,
    text: &str,
) -> (ConversationId, Message, MessageId) {
    let conversation = storage
        .create_conversation(owner, Subject::Math, title)
        .await
        .unwrap();
    let question = storage
        .append_message(conversation.id, &question(text))
        .await
        .unwrap();
    let answer = storage
        .start_answer(conversation.id, "model", None, None)
        .await
        .unwrap();
    (conversation.id, question, answer.id)
}

/// `n` conversations of `owner`, each with a question and an answer
/// started (streaming): (conversation, answer) ids.
async fn streaming_answers(storage: &Storage, owner: UserId, n: usize) -> Vec<(ConversationId, MessageId)> {
    let mut answers = vec![];
    for i in 0..n {
        let (conversation, _, answer) = asked(storage, owner, &format!("문제 {i}"), "1+1은?").await;
        answers.push((conversation, answer));
    }
    answers
}

/// Two hundred answers ending at once, on five connections: each end reads
/// its row and then writes it. On SQLite a transaction that begins by
/// reading cannot wait for the write lock once another connection has
/// committed (it fails at once with "database is locked"); every end must
/// be stored, not retried or lost.
#[tokio::test]
async fn answers_ending_together_are_all_stored() {
    on_each_backend(|backend, storage| async move {
        let owner = user(&storage, "together@example.com").await;
        let answers = streaming_answers(&storage, owner, 200).await;
        let ends = answers.iter().map(|&(_, id)| {
            let storage = storage.clone();
            tokio::spawn(async move {
                let outcome = weasel_server::storage::AnswerOutcome {
                    content: format!("정답: 2 ({})", id.0),
                    output_tokens: 5,
                    total_ms: 10,
                    ..Default::default()
                };
                storage.finish_answer(id, MessageStatus::Complete, &outcome).await
            })
        });
        let results = futures_util::future::join_all(ends).await;
        let failed: Vec<String> = results
            .into_iter()
            .filter_map(|r| r.unwrap().err().map(|e| e.to_string()))
            .collect();
        assert!(
            failed.is_empty(),
            "{backend:?}: {} of 200 ends failed: {:?}",
            failed.len(),
            failed.first()
        );
        for (conversation, id) in answers {
            let messages = storage.messages(conversation).await.unwrap();
            let answer = messages.iter().find(|m| m.id == id).unwrap();
            assert_eq!(answer.status, MessageStatus::Complete, "{backend:?}");
            assert_eq!(answer.content, format!("정답: 2 ({})", id.0), "{backend:?}");
        }
    })
    .await;
}

/// Runs `sql` on whichever database `storage` is.
async fn execute(storage: &Storage, sql: &str) {
    match storage {
        Storage::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Storage::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .expect(sql);
}

async fn journal_rows(storage: &Storage) -> i64 {
    match storage {
        Storage::Sqlite(pool) => {
            sqlx::query_scalar("SELECT count(*) FROM answer_journal")
                .fetch_one(pool)
                .await
        }
        Storage::Postgres(pool) => {
            sqlx::query_scalar("SELECT count(*) FROM answer_journal")
                .fetch_one(pool)
                .await
        }
    }
    .unwrap()
}

/// Streaming text goes to the journal, one row per flush whatever the
/// number of answers; each answer reads back its own text, in order and
/// byte-exact (also what a process of the previous version left in
/// `answer_chunks`); the trim keeps every row a streaming answer needs and
/// drops the rest once the answers ended.
#[tokio::test]
async fn the_journal_gives_each_streaming_answer_its_text_and_is_trimmed_after() {
    use weasel_server::storage::Chunk;
    on_each_backend(|backend, storage| async move {
        let owner = user(&storage, "journal@example.com").await;
        let answers = streaming_answers(&storage, owner, 3).await;
        let (a, b, legacy) = (answers[0].1, answers[1].1, answers[2].1);
        let text_a = long_text(3000);
        let text_b = "정답: ③ — 🧠 세 번째 문단이 근거입니다.".to_string();
        // Three flushes: A in three pieces, B in two (cut inside a character's
        // neighbourhood but on boundaries, as the flusher does).
        let cut = |text: &str, at: usize| (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap();
        let (a1, a2) = (cut(&text_a, 1000), cut(&text_a, 2500));
        let b1 = cut(&text_b, 10);
        let flushes = [
            vec![(a, 0, &text_a[..a1]), (b, 0, &text_b[..b1])],
            vec![(b, b1, &text_b[b1..]), (a, a1, &text_a[a1..a2])],
            vec![(a, a2, &text_a[a2..])],
        ];
        for flush in &flushes {
            let chunks: Vec<Chunk<'_>> = flush
                .iter()
                .map(|&(message, start_at, text)| Chunk {
                    message,
                    start_at,
                    text,
                })
                .collect();
            let (_, bytes) = storage.append_journal(&chunks).await.unwrap().unwrap();
            let text: usize = chunks.iter().map(|c| c.text.len()).sum();
            assert!(
                bytes <= text + 8 * chunks.len(),
                "{backend:?}: {bytes} bytes for {text}"
            );
        }
        assert_eq!(journal_rows(&storage).await, 3, "{backend:?}: one row per flush");
        execute(
            &storage,
            &format!(
                "INSERT INTO answer_chunks (message_id, start_at, text) VALUES ({}, 0, '옛 버전이 쓴 ')",
                legacy.0
            ),
        )
        .await;
        execute(
            &storage,
            &format!(
                "INSERT INTO answer_chunks (message_id, start_at, text) VALUES ({}, 18, '글')",
                legacy.0
            ),
        )
        .await;
        let read = |id| {
            let storage = storage.clone();
            async move { storage.answer(id).await.unwrap().unwrap().content }
        };
        assert_eq!(read(a).await, text_a, "{backend:?}");
        assert_eq!(read(b).await, text_b, "{backend:?}");
        assert_eq!(read(legacy).await, "옛 버전이 쓴 글", "{backend:?}");

        // A minute passes: A began before its rows, so they stay while it streams.
        execute(
            &storage,
            "UPDATE answer_journal SET written_at = written_at - 60000",
        )
        .await;
        execute(
            &storage,
            &format!(
                "UPDATE messages SET created_at = created_at - 120000 WHERE id = {}",
                a.0
            ),
        )
        .await;
        storage.trim_journal().await.unwrap();
        assert_eq!(
            journal_rows(&storage).await,
            3,
            "{backend:?}: kept while A streams"
        );
        assert_eq!(read(a).await, text_a, "{backend:?}");
        for id in [a, b, legacy] {
            let outcome = weasel_server::storage::AnswerOutcome {
                content: read(id).await,
                ..Default::default()
            };
            storage
                .finish_answer(id, MessageStatus::Complete, &outcome)
                .await
                .unwrap();
        }
        storage.trim_journal().await.unwrap();
        assert_eq!(
            journal_rows(&storage).await,
            0,
            "{backend:?}: dropped once nothing streams"
        );
        assert_eq!(read(a).await, text_a, "{backend:?}: the row holds it now");
    })
    .await;
}

/// One flush records the journal row and every end given to it in ONE
/// transaction; an end that fails is rolled back alone and reported, and
/// the others and the row stay written.
#[tokio::test]
async fn a_flush_records_many_ends_and_one_failing_end_spoils_no_other() {
    use weasel_server::storage::{AnswerOutcome, Chunk, End};
    on_each_backend(|backend, storage| async move {
        let owner = user(&storage, "flush@example.com").await;
        let answers = streaming_answers(&storage, owner, 3).await;
        let refused = answers[1].1;
        execute(
            &storage,
            &match backend {
                Backend::Sqlite => format!(
                    "CREATE TRIGGER refuse_one BEFORE UPDATE ON messages WHEN old.id = {} BEGIN SELECT RAISE(ABORT, 'refused'); END;",
                    refused.0
                ),
                Backend::Postgres => format!(
                    "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
                     CREATE TRIGGER refuse_one BEFORE UPDATE ON messages FOR EACH ROW WHEN (old.id = {}) EXECUTE FUNCTION refuse_one();",
                    refused.0
                ),
            },
        )
        .await;
        let outcomes: Vec<AnswerOutcome> = answers
            .iter()
            .map(|(_, id)| AnswerOutcome {
                content: format!("정답: ② ({})", id.0),
                output_tokens: 7,
                ..Default::default()
            })
            .collect();
        let ends: Vec<End<'_>> = answers
            .iter()
            .zip(&outcomes)
            .map(|((_, id), outcome)| End {
                id: *id,
                status: MessageStatus::Complete,
                outcome,
            })
            .collect();
        let rows_before = journal_rows(&storage).await;
        let chunk = Chunk {
            message: answers[0].1,
            start_at: 0,
            text: "정답",
        };
        let flushed = storage.flush(&[chunk], &ends).await.expect("the flush commits");
        assert!(flushed.journal.is_some(), "{backend:?}");
        assert_eq!(journal_rows(&storage).await, rows_before + 1, "{backend:?}");
        let results: Vec<bool> = flushed.ends.iter().map(Result::is_ok).collect();
        assert_eq!(results, [true, false, true], "{backend:?}: {:?}", flushed.ends);
        for ((conversation, id), outcome) in answers.iter().zip(&outcomes) {
            let messages = storage.messages(*conversation).await.unwrap();
            let answer = messages.iter().find(|m| m.id == *id).unwrap();
            if *id == refused {
                assert_eq!(answer.status, MessageStatus::Streaming, "{backend:?}");
                assert_eq!(answer.content, "", "{backend:?}: nothing of the failed end is written");
            } else {
                assert_eq!(answer.status, MessageStatus::Complete, "{backend:?}");
                assert_eq!(answer.content, outcome.content, "{backend:?}");
            }
        }
        // Once the database takes it again, the failed end is recorded.
        execute(
            &storage,
            match backend {
                Backend::Sqlite => "DROP TRIGGER refuse_one",
                Backend::Postgres => "DROP TRIGGER refuse_one ON messages",
            },
        )
        .await;
        storage
            .finish_answer(refused, MessageStatus::Complete, &outcomes[1])
            .await
            .expect("recorded once the database takes it");
        let messages = storage.messages(answers[1].0).await.unwrap();
        let answer = messages.iter().find(|m| m.id == refused).unwrap();
        assert_eq!(answer.content, outcomes[1].content, "{backend:?}");
    })
    .await;
}

/// Search finds what is stored as soon as it is stored, though SQLite's
/// index is written in batches: an answer once it ended (with its final
/// text, indexed once), an edited question by its new text only, nothing
/// of what was deleted, indexed or not; and SQLite's index stays
/// consistent with the messages (FTS5's own integrity check).
#[tokio::test]
async fn search_sees_stored_text_at_once_though_the_index_is_batched() {
    use weasel_server::storage::AnswerOutcome;
    on_each_backend(|backend, storage| async move {
        let owner = user(&storage, "backlog@example.com").await;
        let found = |query: &'static str| {
            let storage = storage.clone();
            async move {
                storage
                    .search_messages(owner, query, 20)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|row| row.content)
                    .collect::<Vec<_>>()
            }
        };
        let (conversation, first, answer) =
            asked(&storage, owner, "생물", "광합성은 어디서 일어나나요?").await;
        assert_eq!(
            found("광합성").await,
            ["광합성은 어디서 일어나나요?"],
            "{backend:?}"
        );
        let outcome = AnswerOutcome {
            content: "정답: 엽록체에서 일어나요.".into(),
            ..Default::default()
        };
        storage
            .finish_answer(answer, MessageStatus::Complete, &outcome)
            .await
            .unwrap();
        assert_eq!(
            found("엽록체").await,
            ["정답: 엽록체에서 일어나요."],
            "{backend:?}"
        );

        storage
            .replace_question(&first, "세포 호흡은 어디서 일어나나요?")
            .await
            .unwrap();
        assert!(
            found("광합성").await.is_empty(),
            "{backend:?}: the old text is gone"
        );
        assert!(
            found("엽록체").await.is_empty(),
            "{backend:?}: the answer after it is gone"
        );
        assert_eq!(
            found("세포 호흡").await,
            ["세포 호흡은 어디서 일어나나요?"],
            "{backend:?}"
        );

        // Deleted before the index ever took it, and after.
        let unindexed = storage
            .create_conversation(owner, Subject::Other, "삭제")
            .await
            .unwrap();
        storage
            .append_message(unindexed.id, &question("미토콘드리아 질문"))
            .await
            .unwrap();
        assert!(storage.delete_conversation(owner, unindexed.id).await.unwrap());
        assert!(storage.delete_conversation(owner, conversation).await.unwrap());
        assert!(found("미토콘드리아").await.is_empty(), "{backend:?}");
        assert!(found("세포 호흡").await.is_empty(), "{backend:?}");

        if let Storage::Sqlite(pool) = &storage {
            storage.index_backlog().await.unwrap();
            sqlx::query("INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)")
                .execute(pool)
                .await
                .expect("the index holds exactly the messages' text");
            let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM search_backlog")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(waiting, 0, "nothing waits once indexed");
        }
    })
    .await;
}

/// Questions written together (SQLite's group commit) keep each its own
/// outcome: one for a conversation that is not the student's fails alone,
/// one past the student's daily limit is refused alone, and neither leaves
/// a row or a count behind; the others are written whole.
#[tokio::test]
async fn questions_written_together_keep_each_its_own_outcome() {
    use weasel_server::{
        spending::DailyLimits,
        storage::{NewQuestion, Refused, Reservation},
    };
    on_each_backend(|backend, storage| async move {
        let (ana, ben) = (
            user(&storage, "batch-a@example.com").await,
            user(&storage, "batch-b@example.com").await,
        );
        let bens = storage
            .create_conversation(ben, Subject::Korean, "벤의 대화")
            .await
            .unwrap();
        let day = "2026-12-06";
        let limits = DailyLimits {
            answers_per_student: 1,
            ..Default::default()
        };
        let ask = |user: UserId, conversation: Option<ConversationId>, text: &'static str| NewQuestion {
            user,
            conversation,
            subject: Subject::Korean,
            title: text,
            question: text,
            images: &[],
            transcribed: false,
            model_id: "model",
            reservation: Reservation {
                day: day.to_string(),
                micros: 10,
            },
            limits: &limits,
            lease: ("writer-1", std::time::Duration::from_secs(10)),
        };
        let batch = [
            ask(ana, None, "가 문제"),
            ask(ana, Some(bens.id), "남의 대화에 묻기"),
            ask(ben, None, "나 문제"),
            ask(ben, None, "한도를 넘은 문제"),
        ];
        let results = storage.begin_questions(&batch).await.expect("the batch commits");
        let kinds: Vec<String> = results
            .iter()
            .map(|r| match r {
                Ok(Ok(begun)) => format!("begun {}", begun.question.content),
                Ok(Err(refused)) => format!("refused {refused:?}"),
                Err(err) => format!("failed {err}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "begun 가 문제",
                "failed conversation not found",
                "begun 나 문제",
                &format!("refused {:?}", Refused::StudentAnswers),
            ],
            "{backend:?}"
        );
        for result in &results {
            if let Ok(Ok(begun)) = result {
                let messages = storage.messages(begun.conversation.id).await.unwrap();
                assert_eq!(messages.len(), 2, "{backend:?}: the question and its answer");
                assert_eq!(messages[1].status, MessageStatus::Streaming, "{backend:?}");
            }
        }
        let titles = |user| {
            let storage = storage.clone();
            async move {
                let mut titles: Vec<String> = storage
                    .conversations(user, 10)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| c.title)
                    .collect();
                titles.sort();
                titles
            }
        };
        assert_eq!(titles(ana).await, ["가 문제"], "{backend:?}");
        assert_eq!(titles(ben).await, ["나 문제", "벤의 대화"], "{backend:?}");
        assert!(
            storage.messages(bens.id).await.unwrap().is_empty(),
            "{backend:?}: the failed question wrote nothing"
        );
        let counted = |user| {
            let storage = storage.clone();
            async move { storage.student_use(user, day, day).await.unwrap().answers }
        };
        assert_eq!((counted(ana).await, counted(ben).await), (1, 1), "{backend:?}");
        let totals = storage.day_totals(day).await.unwrap();
        assert_eq!((totals.answers, totals.reserved_micros), (2, 20), "{backend:?}");
    })
    .await;
}
