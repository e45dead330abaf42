//! Prints what one password check costs with the production argon2id
//! parameters: `cargo run --release -p weasel-server --example password_cost`.
//! A sign-in is one verification; the figure guides the parameter choice.

use std::time::{Duration, Instant};

use weasel_server::auth::Passwords;

#[tokio::main]
async fn main() {
    let passwords = Passwords::default();
    let hash = passwords.hash("correct horse battery".into()).await;
    println!("hash: {}", &hash[..hash.find("$c=").unwrap_or(30).min(30)]);

    let mut samples = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        assert!(
            passwords
                .verify("correct horse battery".into(), Some(hash.clone()))
                .await
        );
        samples.push(started.elapsed());
    }
    let mut unknown = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        assert!(!passwords.verify("anything".into(), None).await);
        unknown.push(started.elapsed());
    }
    unknown.sort();
    let unknown = unknown[unknown.len() / 2];
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "verify: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms over {} runs; unknown account p50 {:.1} ms",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(*samples.last().unwrap()),
        samples.len(),
        ms(unknown)
    );

    // Concurrency: 8 sign-ins at once on this machine's cores.
    let started = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (p, h) = (passwords.clone(), hash.clone());
            tokio::spawn(async move { p.verify("correct horse battery".into(), Some(h)).await })
        })
        .collect();
    for handle in handles {
        assert!(handle.await.unwrap());
    }
    println!(
        "8 concurrent verifications: {:.1} ms in total",
        ms(started.elapsed())
    );
}
