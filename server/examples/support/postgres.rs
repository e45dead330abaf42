//! A throwaway PostgreSQL database for one run of an example (benchmarks,
//! the replica test), on the server the tests use.

use sqlx::{Connection, Executor};

fn admin_url() -> String {
    std::env::var("WEASEL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates `<prefix>_<random>`; returns its URL and its name.
pub async fn create_database(prefix: &str) -> (String, String) {
    let admin = admin_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL");
    conn.execute(format!(r#"CREATE DATABASE "{name}" ENCODING 'UTF8' TEMPLATE template0"#).as_str())
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("admin URL");
    url.set_path(&name);
    (url.to_string(), name)
}

pub async fn drop_database(name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url()).await {
        let _ = conn
            .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
            .await;
    }
}
