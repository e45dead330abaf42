//! The solve flow through the real AWS SDK against the Bedrock emulator.

use crate::common;

use std::{sync::Arc, time::Duration};

use common::{BACKENDS, Backend, TestDatabase};
use serde_json::json;
use weasel_server::{
    config::{ReplicaSettings, Settings},
    model::{
        Usage,
        bedrock::Bedrock,
        check::{Availability, availability},
    },
    solve::{Asked, Ended, LiveEvent, SolveError, Solver, Subscription, system_prompt},
    spending::{self, PriceTable},
    storage::{
        AnswerUsage, Chunk, ConversationId, Message, MessageId, MessageStatus, NewUser, Refused, Storage,
        Subject, UserId,
    },
};

const MODEL: &str = "global.anthropic.claude-sonnet-4-6";

struct Setup {
    solver: Arc<Solver>,
    storage: Storage,
    user: UserId,
    emulator: String,
    idle: Duration,
    settings: Settings,
    _db: TestDatabase,
}

/// Photos in this test process's directory.
fn test_images(storage: &Storage) -> Arc<weasel_server::images::Images> {
    let dir = common::test_image_dir();
    weasel_server::images::Images::with_store(
        storage.clone(),
        Arc::new(weasel_server::images::DirectoryStore::new(dir.clone())),
        weasel_server::config::ImageSettings::in_directory(dir),
    )
}

/// Replica settings with a short lease, so tests see expiry quickly.
fn replica_settings(name: &str, lease: Duration, give_up: Duration) -> ReplicaSettings {
    ReplicaSettings {
        instance_id: format!("{name}-{:08x}", rand_suffix()),
        lease,
        shutdown_grace: Duration::from_secs(10),
        write_give_up: give_up,
    }
}

fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    std::process::id().wrapping_mul(7919) ^ NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Setup {
    /// Another process on the same database, with the same model.
    async fn replica(&self, settings: ReplicaSettings) -> Arc<Solver> {
        let model = Bedrock::new(&self.settings.model, Some(self.emulator.clone()), true).await;
        let storage = self._db.storage().await;
        let solver = Solver::new(
            storage,
            Arc::new(model),
            self.idle,
            settings,
            self.settings.spending.clone(),
            self.settings.model.max_tokens.into(),
            test_images(&self.storage),
        );
        solver.keep().await;
        solver
    }

    /// Asks as the test's student and waits for the answer to end.
    async fn answered(
        &self,
        conversation: Option<ConversationId>,
        subject: Subject,
        question: &str,
    ) -> Asked {
        let asked = self
            .solver
            .ask(self.user, conversation, subject, question)
            .await
            .unwrap();
        follow(self, asked.answer.id).await;
        asked
    }

    /// Runs SQL on the test database (arranging what no request can).
    async fn execute(&self, sql: &str) {
        match &self.storage {
            Storage::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
            Storage::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn setup(backend: Backend, pace_ms: u64, idle: Duration) -> Setup {
    setup_with(backend, pace_ms, idle, &[]).await
}

/// A setup whose settings read `env` (model, caching, limits, prices).
async fn setup_with(backend: Backend, pace_ms: u64, idle: Duration, env: &[(&str, &str)]) -> Setup {
    let config = bedrock_emulator::Config {
        pace: Duration::from_millis(pace_ms),
        recorder: None,
    };
    let emulator = bedrock_emulator::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let db = TestDatabase::create(backend).await;
    let storage = db.storage().await;
    let settings = Settings::from_lookup(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
    .unwrap();
    let model = Bedrock::new(&settings.model, Some(format!("http://{emulator}")), true).await;
    let solver = Solver::new(
        storage.clone(),
        Arc::new(model),
        idle,
        settings.replica.clone(),
        settings.spending.clone(),
        settings.model.max_tokens.into(),
        test_images(&storage),
    );
    solver.keep().await;
    let new = NewUser {
        email: "solver@example.com",
        display_name: "학생",
        password_hash: None,
        email_verified: true,
    };
    let user = storage.create_user(&new).await.unwrap().id;
    Setup {
        solver,
        storage,
        user,
        emulator: format!("http://{emulator}"),
        idle,
        settings,
        _db: db,
    }
}

/// Follows an answer until it ends; returns the text seen live and the stored message.
async fn follow(setup: &Setup, id: MessageId) -> (String, Message) {
    let mut seen = String::new();
    if let Some(subscription) = setup.solver.follow(id).await.unwrap() {
        seen = watch(subscription).await.0;
    }
    let stored = setup.storage.message_of(setup.user, id).await.unwrap().unwrap();
    (seen, stored)
}

/// A follower of an answer that is streaming.
async fn live(setup: &Setup, id: MessageId) -> Subscription {
    setup
        .solver
        .follow(id)
        .await
        .unwrap()
        .expect("the answer streams")
}

/// What a follower sees until the answer ends: the text (every delta in
/// order, none missing or repeated) and how it ended.
async fn watch(subscription: Subscription) -> (String, Ended) {
    let Subscription {
        text: mut seen,
        ended,
        mut events,
    } = subscription;
    if let Some(ended) = ended {
        return (seen, ended);
    }
    let limit = Duration::from_secs(30);
    loop {
        match tokio::time::timeout(limit, events.recv())
            .await
            .expect("answer ends")
        {
            Ok(LiveEvent::Delta { offset, text }) => {
                assert_eq!(offset, seen.len(), "deltas arrive in order, none missing");
                seen.push_str(&text);
            }
            Ok(LiveEvent::Done(ended)) => return (seen, *ended),
            Err(err) => panic!("follower lost events: {err}"),
        }
    }
}

fn expected(question: &str, history: &[(&str, &str)]) -> String {
    let mut messages: Vec<_> = history
        .iter()
        .map(|(role, text)| json!({"role": role, "content": [{"text": text}]}))
        .collect();
    messages.push(json!({"role": "user", "content": [{"text": question}]}));
    let request = json!({"messages": messages, "system": [{"text": system_prompt(Subject::Math)}]});
    bedrock_emulator::compose(MODEL, &request)
}

#[tokio::test]
async fn korean_answers_arrive_intact_and_are_stored_with_their_facts() {
    for backend in BACKENDS {
        let setup = setup(backend, 1, Duration::from_secs(10)).await;
        let question = "이차방정식 x² + 2x + 1 = 0 의 해는? 🧮";
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, question)
            .await
            .unwrap();
        let (seen, stored) = follow(&setup, asked.answer.id).await;
        let want = expected(question, &[]);
        assert_eq!(stored.status, MessageStatus::Complete, "{backend:?}");
        assert_eq!(stored.content, want, "{backend:?}: byte for byte");
        assert_eq!(seen, want, "{backend:?}: what subscribers saw");
        assert!(stored.content.starts_with("정답: "));

        let stats = setup
            .storage
            .answer_stats(asked.answer.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stats.model_id.as_deref(), Some(MODEL));
        assert_eq!(stats.stop_reason.as_deref(), Some("end_turn"));
        assert!(stats.input_tokens.unwrap() > 0 && stats.output_tokens.unwrap() > 10);
        assert!(stats.first_token_ms.unwrap() <= stats.total_ms.unwrap());
        // Named by the title model (the emulator's title: first words + "정리").
        assert_eq!(
            title_eventually(&setup, asked.conversation, "이차방정식 x² + 정리").await,
            "이차방정식 x² + 정리",
            "{backend:?}"
        );
    }
}

async fn title_of(setup: &Setup, id: ConversationId) -> String {
    setup
        .storage
        .conversation(setup.user, id)
        .await
        .unwrap()
        .unwrap()
        .title
}

/// The conversation's title once it is `want`, or whatever it is after 5 s.
async fn title_eventually(setup: &Setup, id: ConversationId, want: &str) -> String {
    let mut title = String::new();
    for _ in 0..100 {
        title = title_of(setup, id).await;
        if title == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    title
}

/// A database that refuses the title for a moment (busy, restarting) does
/// not cost the conversation the title the model made, and paid for.
#[tokio::test]
async fn a_title_the_database_refused_for_a_moment_is_stored_once_it_is_back() {
    for backend in BACKENDS {
        let setup = setup(backend, 1, Duration::from_secs(10)).await;
        setup
            .execute(match backend {
                Backend::Sqlite => {
                    "CREATE TRIGGER refuse_titles BEFORE UPDATE OF title ON conversations
                     BEGIN SELECT RAISE(ABORT, 'read-only'); END;"
                }
                Backend::Postgres => {
                    "CREATE FUNCTION refuse_title() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$;
                     CREATE TRIGGER refuse_titles BEFORE UPDATE OF title ON conversations
                     FOR EACH ROW EXECUTE FUNCTION refuse_title();"
                }
            })
            .await;
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Korean, "광합성의 명반응과 암반응")
            .await
            .unwrap();
        follow(&setup, asked.answer.id).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            title_of(&setup, asked.conversation).await,
            "광합성의 명반응과 암반응",
            "{backend:?}: refused so far"
        );
        setup
            .execute(match backend {
                Backend::Sqlite => "DROP TRIGGER refuse_titles",
                Backend::Postgres => "DROP TRIGGER refuse_titles ON conversations",
            })
            .await;
        assert_eq!(
            title_eventually(&setup, asked.conversation, "광합성의 명반응과 암반응 정리").await,
            "광합성의 명반응과 암반응 정리",
            "{backend:?}"
        );
    }
}

/// A question the database is too busy to take (another writer holds
/// SQLite's lock past the 5 s a write waits for it) is tried once more
/// before the student is told to send it again: stored once, answered.
#[tokio::test]
async fn a_question_the_database_was_too_busy_for_is_tried_once_more() {
    use sqlx::{Connection, Executor};
    let setup = setup(Backend::Sqlite, 1, Duration::from_secs(10)).await;
    let mut other = sqlx::SqliteConnection::connect(&setup._db.url).await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(7)).await;
        other.execute("COMMIT").await.unwrap();
        other
    });
    let started = std::time::Instant::now();
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Korean, "바쁜 날의 질문")
        .await
        .expect("taken on the second try");
    assert!(started.elapsed() >= Duration::from_secs(6), "the lock was held");
    release.await.unwrap();
    follow(&setup, asked.answer.id).await;
    let conversations = setup.storage.conversations(setup.user, 10).await.unwrap();
    assert_eq!(conversations.len(), 1, "stored once");
}

#[tokio::test]
async fn titles_fall_back_to_the_first_line_and_never_undo_a_rename() {
    let setup = setup(Backend::Postgres, 1, Duration::from_secs(10)).await;
    // The title model is throttled too: the first line stays the title.
    let busy = "바쁠 때의 질문\n둘째 줄 [[fault:throttle]]";
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Korean, busy)
        .await
        .unwrap();
    follow(&setup, asked.answer.id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let title = title_of(&setup, asked.conversation).await;
    assert_eq!(title, "바쁠 때의 질문");

    // A title the student typed before the model's arrived is kept.
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Korean, "광합성의 명반응과 암반응")
        .await
        .unwrap();
    assert!(
        setup
            .storage
            .rename_conversation(setup.user, asked.conversation, "내 제목")
            .await
            .unwrap()
    );
    follow(&setup, asked.answer.id).await;
    assert!(
        !setup
            .storage
            .set_generated_title(asked.conversation, "광합성의 명반응과 암반응", "늦게 온 제목")
            .await
            .unwrap()
    );
    let title = title_of(&setup, asked.conversation).await;
    assert_eq!(title, "내 제목");
}

#[tokio::test]
async fn an_edited_question_replaces_every_answer_after_it() {
    for backend in BACKENDS {
        let setup = setup(backend, 1, Duration::from_secs(10)).await;
        let first = setup.answered(None, Subject::Math, "첫 질문").await;
        setup
            .answered(Some(first.conversation), Subject::Math, "둘째 질문")
            .await;

        let edited = setup
            .solver
            .edit(setup.user, first.question.id, "  고친 첫 질문  ")
            .await
            .unwrap();
        assert_eq!(
            edited.question.id, first.question.id,
            "the question keeps its place"
        );
        let (_, answer) = follow(&setup, edited.answer.id).await;
        assert_eq!(answer.status, MessageStatus::Complete, "{backend:?}");
        assert_eq!(
            answer.content,
            expected("고친 첫 질문", &[]),
            "only the edited question is context"
        );
        let messages = setup.storage.messages(first.conversation).await.unwrap();
        let contents: Vec<_> = messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, ["고친 첫 질문", answer.content.as_str()], "{backend:?}");

        // Not an answer, not someone else's, not while an answer is being written.
        assert!(
            setup
                .solver
                .edit(setup.user, edited.answer.id, "x")
                .await
                .is_err()
        );
        assert!(
            setup
                .solver
                .edit(UserId(setup.user.0 + 1000), first.question.id, "x")
                .await
                .is_err()
        );
        assert!(
            setup
                .solver
                .edit(setup.user, first.question.id, "   ")
                .await
                .is_err()
        );
        let slow = setup
            .solver
            .ask(
                setup.user,
                Some(first.conversation),
                Subject::Math,
                "느린 질문 [[pace:50]]",
            )
            .await
            .unwrap();
        assert!(
            setup
                .solver
                .edit(setup.user, first.question.id, "또 고침")
                .await
                .is_err(),
            "{backend:?}: refused while streaming"
        );
        setup.solver.stop(slow.answer.id);
        follow(&setup, slow.answer.id).await;
    }
}

#[tokio::test]
async fn follow_ups_send_the_whole_conversation() {
    let setup = setup(Backend::Sqlite, 1, Duration::from_secs(10)).await;
    let first = setup
        .solver
        .ask(setup.user, None, Subject::Math, "첫 번째 질문: 광합성이란?")
        .await
        .unwrap();
    let (_, first_answer) = follow(&setup, first.answer.id).await;
    let second = setup
        .solver
        .ask(
            setup.user,
            Some(first.conversation),
            Subject::Math,
            "두 번째 질문: 더 자세히",
        )
        .await
        .unwrap();
    let (_, stored) = follow(&setup, second.answer.id).await;
    let history = [
        ("user", "첫 번째 질문: 광합성이란?"),
        ("assistant", first_answer.content.as_str()),
    ];
    assert_eq!(stored.content, expected("두 번째 질문: 더 자세히", &history));
    assert!(
        stored.content.contains("메시지 3개, 질문 2개"),
        "{}",
        stored.content
    );
    assert!(stored.content.contains("직전 질문: «첫 번째 질문: 광합성이란?»"));

    // Someone else's conversation is not found.
    let other = setup
        .storage
        .create_user(&NewUser {
            email: "other@example.com",
            display_name: "x",
            password_hash: None,
            email_verified: true,
        })
        .await
        .unwrap();
    let refused = setup
        .solver
        .ask(other.id, Some(first.conversation), Subject::Math, "끼어들기")
        .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn every_fault_ends_in_the_right_status_with_the_text_kept() {
    let setup = setup(Backend::Sqlite, 2, Duration::from_millis(800)).await;
    let cases = [
        (
            "[[fault:throttle]]",
            MessageStatus::Failed,
            Some("throttled"),
            false,
        ),
        ("[[fault:midstream]]", MessageStatus::Failed, Some("stream"), true),
        ("[[fault:stall]]", MessageStatus::Failed, Some("timeout"), true),
        ("[[fault:drop]]", MessageStatus::Failed, Some("stream"), true),
        (
            "[[fault:nostop]]",
            MessageStatus::Failed,
            Some("incomplete"),
            true,
        ),
        // Complete as far as it goes, and marked as cut off at the length limit.
        (
            "[[fault:maxtokens]]",
            MessageStatus::Complete,
            Some("max_tokens"),
            true,
        ),
    ];
    let mut last = None;
    for (marker, status, error, has_text) in cases {
        let question = format!("고장 시험 {marker}");
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, &question)
            .await
            .unwrap();
        last = Some(asked.answer.id);
        let (seen, stored) = follow(&setup, asked.answer.id).await;
        assert_eq!(
            (stored.status, stored.error.as_deref()),
            (status, error),
            "{marker}"
        );
        assert_eq!(
            stored.content, seen,
            "{marker}: the partial text is what was shown"
        );
        assert_eq!(!stored.content.is_empty(), has_text, "{marker}");
        let full = expected(&question, &[]);
        assert!(
            full.starts_with(&stored.content),
            "{marker}: a prefix of the real answer"
        );
    }
    let stats = setup.storage.answer_stats(last.unwrap()).await.unwrap().unwrap();
    assert_eq!(stats.stop_reason.as_deref(), Some("max_tokens"));
}

#[tokio::test]
async fn stop_keeps_the_partial_answer() {
    let setup = setup(Backend::Postgres, 40, Duration::from_secs(10)).await;
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Korean, "천천히 답해 주세요")
        .await
        .unwrap();
    let mut events = live(&setup, asked.answer.id).await.events;
    for _ in 0..3 {
        assert!(matches!(events.recv().await.unwrap(), LiveEvent::Delta { .. }));
    }
    let asked_at = std::time::Instant::now();
    assert!(setup.solver.stop(asked.answer.id));
    let done = loop {
        if let LiveEvent::Done(ended) = events.recv().await.unwrap() {
            break ended.status;
        }
    };
    assert_eq!(done, MessageStatus::Stopped);
    assert!(
        asked_at.elapsed() < Duration::from_millis(500),
        "stopped in {:?}",
        asked_at.elapsed()
    );
    let stored = setup
        .storage
        .message_of(setup.user, asked.answer.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, MessageStatus::Stopped);
    assert!(!stored.content.is_empty() && expected("천천히 답해 주세요", &[]).len() > stored.content.len());
    assert!(!setup.solver.stop(asked.answer.id), "nothing left to stop");
}

#[tokio::test]
async fn answers_left_streaming_by_a_crash_become_interrupted() {
    for backend in BACKENDS {
        let setup = setup(backend, 1, Duration::from_secs(10)).await;
        let conversation = setup
            .storage
            .create_conversation(setup.user, Subject::Other, "t")
            .await
            .unwrap();
        let orphan = setup
            .storage
            .start_answer(conversation.id, MODEL, None, None)
            .await
            .unwrap();
        // Two flushes' worth of text, the second written twice (a retried flush).
        let first = "절반쯤 ";
        let chunks = [
            Chunk {
                message: orphan.id,
                start_at: 0,
                text: first,
            },
            Chunk {
                message: orphan.id,
                start_at: first.len(),
                text: "쓰다",
            },
        ];
        setup.storage.append_journal(&chunks).await.unwrap();
        let retried = [Chunk {
            message: orphan.id,
            start_at: first.len(),
            text: "쓰다가",
        }];
        setup.storage.append_journal(&retried).await.unwrap();
        // While it streams, readers see the chunks as its text.
        let streaming = setup
            .storage
            .message_of(setup.user, orphan.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(streaming.content, "절반쯤 쓰다가", "{backend:?}");
        // Its writer is gone: the lease it took was never renewed.
        setup
            .storage
            .take_lease(orphan.id, "crashed-process", Duration::ZERO)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let swept = setup
            .storage
            .sweep_expired(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(swept, vec![orphan.id], "{backend:?}");
        let stored = setup
            .storage
            .message_of(setup.user, orphan.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.status, stored.content.as_str()),
            (MessageStatus::Interrupted, "절반쯤 쓰다가")
        );
    }
}

#[tokio::test]
async fn a_failed_answer_can_be_written_again() {
    let setup = setup(Backend::Sqlite, 1, Duration::from_secs(10)).await;
    let question = "일시적 고장 [[fault:midstream]] [[once]]";
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Math, question)
        .await
        .unwrap();
    let (_, failed) = follow(&setup, asked.answer.id).await;
    assert_eq!(failed.status, MessageStatus::Failed);

    let again = setup.solver.retry(setup.user, asked.answer.id).await.unwrap();
    let (_, stored) = follow(&setup, again.answer.id).await;
    assert_eq!(stored.status, MessageStatus::Complete);
    assert_eq!(
        stored.content,
        expected(question, &[]),
        "the failed attempt is not part of the context"
    );
    let messages = setup.storage.messages(asked.conversation).await.unwrap();
    assert_eq!(messages.len(), 2, "the failed answer was replaced");
    // A complete last answer can be regenerated (replacing it); an earlier one cannot.
    let regenerated = setup.solver.retry(setup.user, again.answer.id).await.unwrap();
    let (_, stored) = follow(&setup, regenerated.answer.id).await;
    assert_eq!(stored.status, MessageStatus::Complete);
    assert_eq!(setup.storage.messages(asked.conversation).await.unwrap().len(), 2);
    let follow_up = setup
        .solver
        .ask(setup.user, Some(asked.conversation), Subject::Math, "다음 질문")
        .await
        .unwrap();
    assert!(
        setup
            .solver
            .retry(setup.user, regenerated.answer.id)
            .await
            .is_err(),
        "not the last message"
    );
    follow(&setup, follow_up.answer.id).await;
}

#[tokio::test]
async fn the_text_is_saved_while_it_streams_in_batches() {
    let setup = setup(Backend::Postgres, 25, Duration::from_secs(10)).await;
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Korean, "저장 확인")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let midway = setup
        .storage
        .message_of(setup.user, asked.answer.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(midway.status, MessageStatus::Streaming);
    assert!(!midway.content.is_empty(), "a batch was written while streaming");
    let live = setup.solver.live_text(asked.answer.id).unwrap();
    assert!(live.starts_with(&midway.content) && live.len() >= midway.content.len());
    let (_, done) = follow(&setup, asked.answer.id).await;
    assert!(done.content.len() > midway.content.len());
}

/// The generating task never waits for the database: with the journal
/// locked against writes, text keeps reaching subscribers at the model's
/// pace; once the lock goes, the answer is stored complete, and its own row
/// was never rewritten while it streamed (so the search index is updated once).
#[tokio::test]
async fn a_stalled_database_never_holds_back_the_stream() {
    use sqlx::{Connection, Executor};
    let setup = setup(Backend::Postgres, 10, Duration::from_secs(10)).await;
    let mut blocker = sqlx::PgConnection::connect(&setup._db.url).await.unwrap();
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute("LOCK TABLE answer_journal IN EXCLUSIVE MODE")
        .await
        .unwrap();
    let asked = setup
        .solver
        .ask(
            setup.user,
            None,
            Subject::Korean,
            "데이터베이스가 멈춰도 [[pace:10]]",
        )
        .await
        .unwrap();
    let mut events = live(&setup, asked.answer.id).await.events;
    let mut seen = 0;
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        if let Ok(Ok(LiveEvent::Delta { text, .. })) =
            tokio::time::timeout(Duration::from_millis(100), events.recv()).await
        {
            seen += text.len();
        }
    }
    assert!(
        seen > 200,
        "only {seen} bytes arrived while the database was stalled"
    );
    let flushed = setup.solver.flush_stats();
    assert_eq!(
        flushed.transactions.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "no flush could commit"
    );
    let row: String = sqlx::query_scalar("SELECT content FROM messages WHERE id = $1")
        .bind(asked.answer.id)
        .fetch_one(&mut blocker)
        .await
        .unwrap();
    assert_eq!(row, "", "the answer's row is written once, at the end");
    blocker.execute("ROLLBACK").await.unwrap();

    let (live, stored) = follow(&setup, asked.answer.id).await;
    assert_eq!(stored.status, MessageStatus::Complete);
    assert!(
        live.is_empty() || stored.content == live,
        "what followers saw is what is stored"
    );
    assert!(
        stored.content.starts_with("정답:") && stored.content.ends_with("반영)"),
        "stored whole: {}",
        stored.content
    );
}

/// Replicas share one database: a process that starts leaves the answers
/// another one writes alone, refuses to write them again, and its followers
/// get them live and byte-exact, from the start or from any offset.
#[tokio::test]
async fn another_replica_follows_a_live_answer_byte_exact_and_leaves_it_alone() {
    for backend in BACKENDS {
        let setup = setup(backend, 20, Duration::from_secs(10)).await;
        let question = "다른 서버에서 따라가기 [[pace:20]]";
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, question)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        // A replica starting now sweeps: the live answer is not touched.
        let other = setup
            .replica(replica_settings(
                "b",
                Duration::from_secs(3),
                Duration::from_secs(5),
            ))
            .await;
        let midway = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
        assert_eq!(midway.status, MessageStatus::Streaming, "{backend:?}");
        assert!(
            matches!(
                other.retry(setup.user, asked.answer.id).await,
                Err(SolveError::NotRetryable)
            ),
            "{backend:?}: a retry is refused while its writer holds the lease"
        );
        let from_start = other.follow(asked.answer.id).await.unwrap().expect("streams");
        let (seen, ended) = watch(from_start).await;
        let want = expected(question, &[]);
        assert_eq!(ended.status, MessageStatus::Complete, "{backend:?}");
        assert_eq!(
            seen, want,
            "{backend:?}: the other replica's followers see every byte once"
        );
        let stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
        assert_eq!(stored.content, want);
    }
}

/// The next piece of text a follower gets, as (offset, text).
async fn next_delta(events: &mut tokio::sync::broadcast::Receiver<LiveEvent>) -> (usize, String) {
    match tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("text arrives within 5 s")
    {
        Ok(LiveEvent::Delta { offset, text }) => (offset, text),
        Ok(LiveEvent::Done(ended)) => panic!("ended early: {ended:?}"),
        Err(err) => panic!("follower lost events: {err}"),
    }
}

/// On PostgreSQL, writers on two replicas take journal ids in one order and
/// may commit in the other: a replica that read the newer row first still
/// hands the older row's text to its followers once it commits, in order
/// and once.
#[tokio::test]
async fn a_journal_row_committed_after_a_newer_one_still_reaches_followers() {
    use sqlx::{Connection, Executor};
    let setup = setup(Backend::Postgres, 20, Duration::from_secs(10)).await;
    // Two answers other processes write (their leases are live).
    let mut answers = vec![];
    for writer in ["writer-x", "writer-y"] {
        let conversation = setup
            .storage
            .create_conversation(setup.user, Subject::Korean, writer)
            .await
            .unwrap();
        let answer = setup
            .storage
            .start_answer(conversation.id, MODEL, None, None)
            .await
            .unwrap();
        setup
            .storage
            .take_lease(answer.id, writer, Duration::from_secs(60))
            .await
            .unwrap();
        answers.push(answer.id);
    }
    let (x, y) = (answers[0], answers[1]);
    let mut x_events = live(&setup, x).await.events;
    let mut y_events = live(&setup, y).await.events;
    // X's writer has taken its row's id but not committed yet...
    let mut slow = sqlx::PgConnection::connect(&setup._db.url).await.unwrap();
    slow.execute("BEGIN").await.unwrap();
    let first = "정답: ②";
    let body = weasel_server::storage::encode_journal(&[Chunk {
        message: x,
        start_at: 0,
        text: first,
    }]);
    let row: i64 =
        sqlx::query_scalar("INSERT INTO answer_journal (written_at, body) VALUES ($1, $2) RETURNING id")
            .bind(weasel_server::storage::now_millis())
            .bind(&body)
            .fetch_one(&mut slow)
            .await
            .unwrap();
    sqlx::query("SELECT pg_notify('weasel_answers', $1)")
        .bind(format!("j{row}"))
        .execute(&mut slow)
        .await
        .unwrap();
    // ...when Y's newer row commits, and is read here.
    setup
        .storage
        .append_journal(&[Chunk {
            message: y,
            start_at: 0,
            text: "풀이",
        }])
        .await
        .unwrap();
    assert_eq!(next_delta(&mut y_events).await, (0, "풀이".to_string()));
    // X's row commits: its text reaches X's follower.
    slow.execute("COMMIT").await.unwrap();
    assert_eq!(next_delta(&mut x_events).await, (0, first.to_string()));
    // X's next row follows on, each byte once.
    setup
        .storage
        .append_journal(&[Chunk {
            message: x,
            start_at: first.len(),
            text: " 입니다",
        }])
        .await
        .unwrap();
    assert_eq!(
        next_delta(&mut x_events).await,
        (first.len(), " 입니다".to_string())
    );
}

/// A writer that died (its lease is never renewed) has its answers marked
/// interrupted within about one lease, with the text it had written; the
/// other process's own answer is untouched and its followers learn the end.
#[tokio::test]
async fn a_dead_writers_answers_are_interrupted_within_a_lease_and_keep_their_text() {
    for backend in BACKENDS {
        let setup = setup(backend, 20, Duration::from_secs(10)).await;
        let lease = Duration::from_secs(3);
        let survivor = setup
            .replica(replica_settings("b", lease, Duration::from_secs(5)))
            .await;
        let conversation = setup
            .storage
            .create_conversation(setup.user, Subject::Korean, "t")
            .await
            .unwrap();
        // What a crashed process leaves: a streaming row, a lease, some chunks.
        let orphan = setup
            .storage
            .start_answer(conversation.id, MODEL, None, None)
            .await
            .unwrap();
        setup
            .storage
            .take_lease(orphan.id, "crashed-1", lease)
            .await
            .unwrap();
        let chunk = Chunk {
            message: orphan.id,
            start_at: 0,
            text: "정답: ③ 까지 쓰고",
        };
        setup.storage.append_journal(&[chunk]).await.unwrap();
        let followed = survivor.follow(orphan.id).await.unwrap().expect("streams");
        let own = survivor
            .ask(setup.user, None, Subject::Math, "살아 있는 답 [[pace:60]]")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let (seen, ended) = watch(followed).await;
        let waited = started.elapsed();
        assert_eq!(ended.status, MessageStatus::Interrupted, "{backend:?}");
        assert_eq!(seen, "정답: ③ 까지 쓰고", "{backend:?}");
        assert!(
            waited <= lease + lease / 3 + Duration::from_millis(700),
            "{backend:?}: marked after {waited:?}"
        );
        let stored = setup.storage.answer(orphan.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.status, stored.content.as_str()),
            (MessageStatus::Interrupted, "정답: ③ 까지 쓰고")
        );
        let mine = setup.storage.answer(own.answer.id).await.unwrap().unwrap();
        assert_eq!(
            mine.status,
            MessageStatus::Streaming,
            "{backend:?}: a live lease is never swept"
        );
        let (_, own_end) = watch(live_of(&survivor, own.answer.id).await).await;
        assert_eq!(own_end.status, MessageStatus::Complete);
    }
}

async fn live_of(solver: &Solver, id: MessageId) -> Subscription {
    solver.follow(id).await.unwrap().expect("the answer streams")
}

/// SIGTERM: new questions are refused, answers in progress finish and are
/// stored; what still runs at the end of the grace period is stored as
/// interrupted with its text.
#[tokio::test]
async fn draining_lets_answers_finish_and_marks_what_the_grace_period_cuts() {
    let setup = setup(Backend::Sqlite, 10, Duration::from_secs(10)).await;
    let finishing = setup
        .solver
        .ask(setup.user, None, Subject::Math, "곧 끝나는 답 [[pace:5]]")
        .await
        .unwrap();
    let solver = setup.solver.clone();
    let draining = tokio::spawn(async move { solver.drain(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!setup.solver.ready(), "readiness fails while draining");
    assert!(matches!(
        setup.solver.ask(setup.user, None, Subject::Math, "새 질문").await,
        Err(SolveError::Restarting)
    ));
    draining.await.unwrap();
    let stored = setup.storage.answer(finishing.answer.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Complete);
    assert_eq!(stored.content, expected("곧 끝나는 답 [[pace:5]]", &[]));

    let setup = self::setup(Backend::Postgres, 10, Duration::from_secs(10)).await;
    let slow = setup
        .solver
        .ask(setup.user, None, Subject::Math, "아주 느린 답 [[pace:200]]")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    setup.solver.drain(Duration::from_millis(300)).await;
    let stored = setup.storage.answer(slow.answer.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Interrupted);
    assert_eq!(stored.error.as_deref(), Some("shutdown"));
    assert!(
        stored.content.starts_with("정답"),
        "kept its text: {:?}",
        stored.content
    );
}

/// SQL that makes the database refuse every write an answer needs.
fn refuse_writes(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_journal BEFORE INSERT ON answer_journal BEGIN SELECT RAISE(ABORT, 'read-only'); END;
             CREATE TRIGGER refuse_messages BEFORE UPDATE ON messages BEGIN SELECT RAISE(ABORT, 'read-only'); END;
             CREATE TRIGGER refuse_beats BEFORE INSERT ON instances BEGIN SELECT RAISE(ABORT, 'read-only'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read-only'; END $$;
             CREATE TRIGGER refuse_journal BEFORE INSERT ON answer_journal FOR EACH ROW EXECUTE FUNCTION refuse();
             CREATE TRIGGER refuse_messages BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION refuse();
             CREATE TRIGGER refuse_beats BEFORE INSERT ON instances FOR EACH ROW EXECUTE FUNCTION refuse();"
        }
    }
}

const ALLOW_WRITES: &str =
    "DROP TRIGGER refuse_journal; DROP TRIGGER refuse_messages; DROP TRIGGER refuse_beats;";
const ALLOW_WRITES_PG: &str = "DROP TRIGGER refuse_journal ON answer_journal; \
     DROP TRIGGER refuse_messages ON messages; DROP TRIGGER refuse_beats ON instances;";

/// While the database refuses writes the process is not ready, followers
/// keep the whole text (never a shorter stored copy) and no end is claimed;
/// once writes work the answer is stored whole and its followers told.
#[tokio::test]
async fn an_answer_outlives_a_database_that_refuses_writes() {
    for backend in BACKENDS {
        let setup = setup(backend, 10, Duration::from_secs(10)).await;
        let question = "저장이 안 될 때";
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, question)
            .await
            .unwrap();
        setup.execute(refuse_writes(backend)).await;
        setup.solver.keep().await;
        assert!(!setup.solver.ready(), "{backend:?}: not ready while writes fail");
        let mut followed = live(&setup, asked.answer.id).await;
        // Generated in full, but not stored: the text stays in memory.
        let want = expected(question, &[]);
        for _ in 0..100 {
            if setup.solver.live_text(asked.answer.id).as_deref() == Some(want.as_str()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            setup.solver.live_text(asked.answer.id).as_deref(),
            Some(want.as_str()),
            "{backend:?}"
        );
        // Events reached the follower: the next is a delta, or, since it read
        // none of them, word that it fell out of the live buffer and must
        // catch up from the text (which the reconnect below checks).
        assert!(
            matches!(
                followed.events.try_recv(),
                Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
            ),
            "{backend:?}: followers got the text"
        );
        let reconnected = live(&setup, asked.answer.id).await;
        assert_eq!(
            reconnected.text, want,
            "{backend:?}: a reconnecting follower gets all of it"
        );
        assert_eq!(
            reconnected.ended, None,
            "{backend:?}: no end is claimed before it is stored"
        );

        setup
            .execute(match backend {
                Backend::Sqlite => ALLOW_WRITES,
                Backend::Postgres => ALLOW_WRITES_PG,
            })
            .await;
        let (seen, ended) = watch(reconnected).await;
        assert_eq!(
            (seen.as_str(), ended.status),
            (want.as_str(), MessageStatus::Complete)
        );
        let stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
        assert_eq!((stored.status, stored.content), (MessageStatus::Complete, want));
        setup.solver.keep().await;
        assert!(setup.solver.ready(), "{backend:?}: ready again");
    }
}

/// When the database stays away past the bound, followers are told the
/// answer failed, and it is stored failed with its whole text once the
/// database is back: no answer stays streaming without an owner.
#[tokio::test]
async fn a_database_gone_too_long_ends_the_answer_as_failed_with_its_text() {
    let setup = setup(Backend::Postgres, 2, Duration::from_secs(10)).await;
    let writer = setup
        .replica(replica_settings(
            "a",
            Duration::from_secs(3),
            Duration::from_secs(1),
        ))
        .await;
    let asked = writer
        .ask(setup.user, None, Subject::Math, "오래 저장이 안 될 때")
        .await
        .unwrap();
    setup.execute(refuse_writes(Backend::Postgres)).await;
    let followed = live_of(&writer, asked.answer.id).await;
    let (seen, ended) = watch(followed).await;
    assert_eq!(ended.status, MessageStatus::Failed);
    assert_eq!(ended.error.as_deref(), Some("storage"));
    let want = expected("오래 저장이 안 될 때", &[]);
    assert_eq!(seen, want);
    setup.execute(ALLOW_WRITES_PG).await;
    let mut stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
    for _ in 0..100 {
        if stored.status != MessageStatus::Streaming {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
    }
    assert_eq!((stored.status, stored.content), (MessageStatus::Failed, want));
}

/// Every connection of the process is terminated mid-answer: the pool
/// reconnects and the answer is stored whole.
#[tokio::test]
async fn terminated_database_connections_mid_answer_lose_nothing() {
    let setup = setup(Backend::Postgres, 10, Duration::from_secs(10)).await;
    let question = "연결이 끊겨도 [[pace:10]]";
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Math, question)
        .await
        .unwrap();
    let followed = live(&setup, asked.answer.id).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let admin = weasel_server::storage::Storage::connect(&weasel_server::config::DatabaseSettings::new(
        setup._db.url.clone(),
        1,
    ))
    .await
    .unwrap();
    if let Storage::Postgres(pool) = &admin {
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(!ended.is_empty(), "the app's connections were terminated");
    }
    let (seen, ended) = watch(followed).await;
    let want = expected(question, &[]);
    assert_eq!(
        (seen.as_str(), ended.status),
        (want.as_str(), MessageStatus::Complete)
    );
    let stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.content), (MessageStatus::Complete, want));
}

/// A student presses stop on a page served by a replica that does not
/// write the answer: the writer stops it and keeps its text.
#[tokio::test]
async fn stop_pressed_on_another_replica_stops_the_answer() {
    let setup = setup(Backend::Postgres, 40, Duration::from_secs(10)).await;
    let other = setup
        .replica(replica_settings(
            "b",
            Duration::from_secs(3),
            Duration::from_secs(5),
        ))
        .await;
    let asked = setup
        .solver
        .ask(
            setup.user,
            None,
            Subject::Korean,
            "다른 서버에서 멈추기 [[pace:40]]",
        )
        .await
        .unwrap();
    let mut events = live(&setup, asked.answer.id).await.events;
    for _ in 0..3 {
        assert!(matches!(events.recv().await.unwrap(), LiveEvent::Delta { .. }));
    }
    assert!(
        !other.stop(asked.answer.id),
        "the other replica does not write it"
    );
    other.stop_anywhere(asked.answer.id).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let LiveEvent::Done(ended) = events.recv().await.unwrap() {
                break ended;
            }
        }
    })
    .await
    .expect("stopped within 5 s");
    assert_eq!(ended.status, MessageStatus::Stopped);
    let stored = setup.storage.answer(asked.answer.id).await.unwrap().unwrap();
    assert_eq!(stored.status, MessageStatus::Stopped);
    assert!(!stored.content.is_empty(), "it keeps its text");
}

/// Runs an answer to its end; its stored usage (tokens and cost).
async fn usage_of(setup: &Setup, conversation: ConversationId, answer: MessageId) -> AnswerUsage {
    let (_, stored) = follow(setup, answer).await;
    assert_eq!(stored.status, MessageStatus::Complete, "{:?}", stored.error);
    setup
        .storage
        .answer_usage(conversation)
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == answer)
        .map(|(_, usage)| usage)
        .expect("a finished answer has its usage")
}

#[tokio::test]
async fn both_request_shapes_answer_and_every_answer_has_its_cost() {
    for backend in BACKENDS {
        for model in [
            "global.anthropic.claude-sonnet-4-6",
            "global.anthropic.claude-sonnet-5",
        ] {
            let setup = setup_with(backend, 1, Duration::from_secs(10), &[("WEASEL_MODEL_ID", model)]).await;
            let asked = setup
                .solver
                .ask(setup.user, None, Subject::Korean, "윗글의 내용과 일치하는 것은?")
                .await
                .unwrap();
            let usage = usage_of(&setup, asked.conversation, asked.answer.id).await;
            assert!(
                usage.input_tokens + usage.cache_write_tokens > 0,
                "{backend:?} {model}"
            );
            assert!(usage.output_tokens > 0, "{backend:?} {model}");
            let want = PriceTable::default().cost_micros(
                model,
                &Usage {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    cache_read_tokens: usage.cache_read_tokens,
                    cache_write_tokens: usage.cache_write_tokens,
                },
            );
            assert!(want > 0);
            assert_eq!(
                usage.cost_micros, want,
                "{backend:?} {model}: tokens at the list price"
            );
            // The day's totals and the student's count it, and nothing stays reserved.
            // The day also pays for the conversation's title (Haiku, in the
            // background): counted against the budget, not the student.
            let day = spending::day_of(time::OffsetDateTime::now_utc());
            let mut totals = setup.storage.day_totals(&day).await.unwrap();
            for _ in 0..100 {
                if totals.spent_micros > want {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                totals = setup.storage.day_totals(&day).await.unwrap();
            }
            assert!(
                totals.spent_micros > want,
                "{backend:?} {model}: the title counts too"
            );
            assert!(
                totals.spent_micros < want + 5_000,
                "{backend:?} {model}: a title costs little"
            );
            assert_eq!(totals.reserved_micros, 0, "{backend:?} {model}");
            let student = setup.storage.student_use(setup.user, &day, &day).await.unwrap();
            assert_eq!(student.answers, 1);
            assert_eq!(student.spent_micros, want);
            assert_eq!(
                student.tokens,
                usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            );
        }
    }
}

#[tokio::test]
async fn a_retired_model_fails_as_gone_and_the_control_plane_check_says_so() {
    let retired = "apac.anthropic.claude-3-5-sonnet-20240620-v1:0";
    // Retired, and one this account was never granted: both fail as gone.
    for model in ["global.anthropic.claude-fable-5", retired] {
        let setup = setup_with(
            Backend::Sqlite,
            1,
            Duration::from_secs(10),
            &[("WEASEL_MODEL_ID", model)],
        )
        .await;
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, "1 + 1 = ?")
            .await
            .unwrap();
        let (_, stored) = follow(&setup, asked.answer.id).await;
        assert_eq!(stored.status, MessageStatus::Failed, "{model}");
        assert_eq!(stored.error.as_deref(), Some("model_gone"), "{model}");
        // Its reservation is released with a cost of nothing.
        let day = spending::day_of(time::OffsetDateTime::now_utc());
        assert_eq!(setup.storage.day_totals(&day).await.unwrap().reserved_micros, 0);
    }
    let setup = setup(Backend::Sqlite, 1, Duration::from_secs(10)).await;

    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-northeast-2"))
        .endpoint_url(&setup.emulator)
        .credentials_provider(aws_sdk_bedrock::config::Credentials::new(
            "t", "t", None, None, "test",
        ))
        .load()
        .await;
    let control = aws_sdk_bedrock::Client::new(&config);
    assert!(matches!(
        availability(&control, retired).await,
        Availability::Gone(_)
    ));
    assert!(matches!(
        availability(&control, "anthropic.claude-3-haiku-20240307-v1:0").await,
        Availability::Gone(_)
    ));
    assert_eq!(
        availability(&control, "global.anthropic.claude-sonnet-4-6").await,
        Availability::Active
    );
    assert_eq!(
        availability(&control, "global.anthropic.claude-haiku-4-5-20251001-v1:0").await,
        Availability::Active
    );
    // A model this account was never granted: the check says so at startup,
    // and an answer fails as gone rather than as a generic error.
    assert!(matches!(
        availability(&control, "global.anthropic.claude-fable-5").await,
        Availability::NoAccess(_)
    ));
    assert_eq!(
        availability(&control, "us.anthropic.claude-sonnet-4-5-20250929-v1:0").await,
        Availability::Legacy {
            end_of_life: Some("2026-11-30T00:00:00Z".into())
        }
    );
}

#[tokio::test]
async fn follow_ups_read_the_passage_from_the_prompt_cache() {
    let passage = format!(
        "[지문] {}",
        "세종은 백성을 위해 훈민정음을 만들었다. ".repeat(200)
    );
    for backend in BACKENDS {
        for (shape, cache) in [("converse", "on"), ("messages", "on"), ("converse", "off")] {
            let setup = setup_with(
                backend,
                1,
                Duration::from_secs(10),
                &[("WEASEL_MODEL_API", shape), ("WEASEL_PROMPT_CACHE", cache)],
            )
            .await;
            let first = setup
                .solver
                .ask(
                    setup.user,
                    None,
                    Subject::Korean,
                    &format!("{passage}\n윗글과 일치하는 것은?"),
                )
                .await
                .unwrap();
            let turn1 = usage_of(&setup, first.conversation, first.answer.id).await;
            let mut turns = vec![turn1];
            for follow_up in ["③번은 왜 틀렸어?", "핵심 주장을 요약해 줘."] {
                let asked = setup
                    .solver
                    .ask(setup.user, Some(first.conversation), Subject::Korean, follow_up)
                    .await
                    .unwrap();
                turns.push(usage_of(&setup, first.conversation, asked.answer.id).await);
            }
            let label = format!("{backend:?} {shape} caching {cache}");
            let passage_tokens = (passage.chars().count() / 2) as i64;
            if cache == "on" {
                assert!(
                    turns[0].cache_write_tokens >= passage_tokens,
                    "{label}: {turns:?}"
                );
                for turn in &turns[1..] {
                    assert!(turn.cache_read_tokens >= passage_tokens, "{label}: {turns:?}");
                    assert!(
                        turn.input_tokens < 100,
                        "{label}: the passage is not paid again: {turns:?}"
                    );
                }
            } else {
                for turn in &turns {
                    assert_eq!(turn.cache_read_tokens + turn.cache_write_tokens, 0, "{label}");
                    assert!(turn.input_tokens >= passage_tokens, "{label}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_daily_limit_refuses_the_next_question_and_two_cannot_take_the_last_place() {
    for backend in BACKENDS {
        let setup = setup_with(
            backend,
            1,
            Duration::from_secs(10),
            &[("WEASEL_DAILY_ANSWERS_PER_STUDENT", "3")],
        )
        .await;
        let first = setup.answered(None, Subject::Math, "첫 질문").await;
        setup
            .answered(Some(first.conversation), Subject::Math, "둘째 질문")
            .await;
        // One place left, two questions at once: exactly one gets it.
        let (a, b) = tokio::join!(
            setup.solver.ask(setup.user, None, Subject::Math, "셋째 질문 A"),
            setup.solver.ask(setup.user, None, Subject::Math, "셋째 질문 B"),
        );
        let refused = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(SolveError::Limit(l)) if l.refused == Refused::StudentAnswers && l.answers_per_day == 3))
            .count();
        assert_eq!(refused, 1, "{backend:?}: {:?} {:?}", a.is_ok(), b.is_ok());
        let admitted = a.or(b).unwrap();
        follow(&setup, admitted.answer.id).await;
        // A refused question leaves nothing behind, and deleting
        // conversations does not give the places back.
        let conversations = setup.storage.conversations(setup.user, 50).await.unwrap();
        assert_eq!(conversations.len(), 2, "{backend:?}");
        for conversation in conversations {
            setup
                .storage
                .delete_conversation(setup.user, conversation.id)
                .await
                .unwrap();
        }
        let again = setup
            .solver
            .ask(setup.user, None, Subject::Math, "넷째 질문")
            .await;
        match again {
            Err(SolveError::Limit(reached)) => {
                assert!(reached.resets_in_secs > 0 && reached.resets_in_secs <= 86_400);
            }
            other => panic!("{backend:?}: {:?}", other.map(|a| a.answer.id)),
        }
        // Another student is not affected.
        let other = setup
            .storage
            .create_user(&NewUser {
                email: "other@example.com",
                display_name: "다른 학생",
                password_hash: None,
                email_verified: true,
            })
            .await
            .unwrap()
            .id;
        let theirs = setup
            .solver
            .ask(other, None, Subject::Math, "다른 학생의 질문")
            .await
            .unwrap();
        if let Some(subscription) = setup.solver.follow(theirs.answer.id).await.unwrap() {
            watch(subscription).await;
        }
    }
}

#[tokio::test]
async fn the_budget_reserves_what_answers_may_cost_so_it_is_never_passed() {
    for backend in BACKENDS {
        // An answer may cost up to 4,096 output tokens at $15 per million
        // (about $0.062): $0.10 lets one in at a time.
        let setup = setup_with(
            backend,
            20,
            Duration::from_secs(10),
            &[("WEASEL_DAILY_BUDGET_USD", "0.10")],
        )
        .await;
        let first = setup
            .solver
            .ask(setup.user, None, Subject::Math, "첫 질문")
            .await
            .unwrap();
        let day = spending::day_of(time::OffsetDateTime::now_utc());
        let reserved = setup.storage.day_totals(&day).await.unwrap().reserved_micros;
        assert!(reserved > 60_000, "{backend:?}: {reserved}");
        match setup
            .solver
            .ask(setup.user, None, Subject::Math, "둘째 질문")
            .await
        {
            Err(SolveError::Limit(reached)) => assert_eq!(reached.refused, Refused::Budget),
            other => panic!("{backend:?}: {:?}", other.map(|a| a.answer.id)),
        }
        // The first answer is never cut for money; once it ends its real
        // cost replaces the reservation and the next question fits.
        let usage = usage_of(&setup, first.conversation, first.answer.id).await;
        let totals = setup.storage.day_totals(&day).await.unwrap();
        assert_eq!(totals.reserved_micros, 0, "{backend:?}");
        assert!(totals.spent_micros >= usage.cost_micros, "{backend:?}");
        setup.answered(None, Subject::Math, "셋째 질문").await;
    }
}

#[tokio::test]
async fn the_messages_shape_reports_faults_as_converse_does() {
    let setup = setup_with(
        Backend::Sqlite,
        1,
        Duration::from_secs(10),
        &[("WEASEL_MODEL_ID", "global.anthropic.claude-opus-4-7")],
    )
    .await;
    for (question, error) in [
        ("중간에 끊김 [[fault:midstream]]", "stream"),
        ("바쁨 [[fault:throttle]]", "throttled"),
        ("끝이 없음 [[fault:nostop]]", "incomplete"),
    ] {
        let asked = setup
            .solver
            .ask(setup.user, None, Subject::Math, question)
            .await
            .unwrap();
        let (_, stored) = follow(&setup, asked.answer.id).await;
        assert_eq!(stored.status, MessageStatus::Failed, "{question}");
        assert_eq!(stored.error.as_deref(), Some(error), "{question}");
    }
    let asked = setup
        .solver
        .ask(setup.user, None, Subject::Math, "길게 [[fault:maxtokens]]")
        .await
        .unwrap();
    let (seen, stored) = follow(&setup, asked.answer.id).await;
    assert_eq!(stored.status, MessageStatus::Complete);
    assert_eq!(stored.error.as_deref(), Some("max_tokens"));
    assert_eq!(seen, stored.content, "the same text live and stored");
    assert!(stored.content.starts_with("정답:"));
}
