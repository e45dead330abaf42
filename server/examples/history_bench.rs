//! List and search latency for a user with 5,000 conversations and 50,000
//! messages, on SQLite and PostgreSQL:
//! `cargo run --release -p weasel-server --example history_bench`
//! (PostgreSQL at `WEASEL_TEST_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres;
//! a scratch database is created and dropped).

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use weasel_server::{
    config::DatabaseSettings,
    storage::{NewUser, Storage, UserId},
};

const CONVERSATIONS: usize = 5_000;
const MESSAGES_PER_CONVERSATION: usize = 10;

const WORDS: [&str; 12] = [
    "광합성은",
    "미적분의",
    "확률과",
    "통계에서",
    "문학",
    "작품의",
    "주제는",
    "English",
    "passage",
    "vocabulary",
    "함수의",
    "극한값을",
];

/// Deterministic text of about 300 characters, different for every message.
fn text(n: usize) -> String {
    (0..40)
        .map(|i| WORDS[(n * 7 + i * 3 + i * i) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

async fn fill(storage: &Storage, user: UserId) {
    let now = weasel_server::storage::now_millis();
    for chunk in 0..CONVERSATIONS / 500 {
        let mut conversations = Vec::new();
        for i in chunk * 500..(chunk + 1) * 500 {
            conversations.push(format!(
                "({}, '문제 {i}', 'math', {}, {})",
                user.0,
                now - i as i64,
                now - i as i64
            ));
        }
        let sql = format!(
            "INSERT INTO conversations (user_id, title, subject, created_at, updated_at) VALUES {}",
            conversations.join(",")
        );
        run(storage, &sql).await;
    }
    let ids: Vec<i64> = match storage {
        Storage::Sqlite(pool) => sqlx::query_scalar("SELECT id FROM conversations")
            .fetch_all(pool)
            .await
            .unwrap(),
        Storage::Postgres(pool) => sqlx::query_scalar("SELECT id FROM conversations")
            .fetch_all(pool)
            .await
            .unwrap(),
    };
    for batch in ids.chunks(100) {
        let mut rows = Vec::new();
        for &id in batch {
            for k in 0..MESSAGES_PER_CONVERSATION {
                let role = if k % 2 == 0 { "user" } else { "assistant" };
                rows.push(format!(
                    "({id}, '{role}', '{}', 'complete', {now})",
                    text(id as usize * 10 + k)
                ));
            }
        }
        let sql = format!(
            "INSERT INTO messages (conversation_id, role, content, status, created_at) VALUES {}",
            rows.join(",")
        );
        run(storage, &sql).await;
    }
    if let Storage::Postgres(pool) = storage {
        pool.execute("ANALYZE").await.unwrap();
    }
}

async fn run(storage: &Storage, sql: &str) {
    match storage {
        Storage::Sqlite(pool) => pool.execute(sql).await.map(|_| ()),
        Storage::Postgres(pool) => pool.execute(sql).await.map(|_| ()),
    }
    .expect("bulk insert");
}

fn median(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

async fn measure(label: &str, storage: Storage) {
    let user = storage
        .create_user(&NewUser {
            email: "bench@example.com",
            display_name: "bench",
            password_hash: None,
            email_verified: true,
        })
        .await
        .unwrap()
        .id;
    let started = Instant::now();
    fill(&storage, user).await;
    println!(
        "{label}: loaded {CONVERSATIONS} conversations, {} messages in {:.1} s",
        CONVERSATIONS * MESSAGES_PER_CONVERSATION,
        started.elapsed().as_secs_f64()
    );

    let mut first_page = Vec::new();
    let mut deep_page = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let page = storage.conversations_page(user, None, 30).await.unwrap();
        first_page.push(t.elapsed());
        let cursor = weasel_server::storage::ListCursor {
            updated_at: page[29].updated_at - 4000,
            id: page[29].id,
        };
        let t = Instant::now();
        storage.conversations_page(user, Some(cursor), 30).await.unwrap();
        deep_page.push(t.elapsed());
    }
    println!(
        "{label}: list first page {:.2} ms, a page 4,000 deep {:.2} ms (median of 30)",
        median(first_page),
        median(deep_page)
    );
    for query in ["광합성", "극한값", "vocabulary", "없는단어입니다", "수학"] {
        let mut samples = Vec::new();
        let mut found = 0;
        for _ in 0..15 {
            let t = Instant::now();
            found = storage.search_messages(user, query, 50).await.unwrap().len();
            samples.push(t.elapsed());
        }
        println!(
            "{label}: search {query:<16} {:>7.2} ms ({found} rows, median of 15)",
            median(samples)
        );
    }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("weasel-history-bench-{}", uuid::Uuid::new_v4().simple()));
    let sqlite = DatabaseSettings::new(format!("sqlite://{}/bench.db?mode=rwc", dir.display()), 4);
    measure("SQLite", Storage::connect(&sqlite).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(&dir);

    let admin = std::env::var("WEASEL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("weasel_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.expect("PostgreSQL");
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let postgres = DatabaseSettings::new(url.to_string(), 4);
    let storage = Storage::connect(&postgres).await.unwrap();
    measure("PostgreSQL", storage.clone()).await;
    storage.close().await;
    conn.execute(format!(r#"DROP DATABASE "{name}" WITH (FORCE)"#).as_str())
        .await
        .unwrap();
}
