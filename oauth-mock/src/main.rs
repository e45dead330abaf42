//! `oauth-mock [ADDR]`: serves the mock providers (default 127.0.0.1:9090).
//! Client id and secret come from OAUTH_MOCK_CLIENT_ID / OAUTH_MOCK_CLIENT_SECRET.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9090".into());
    let addr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let client = oauth_mock::Client {
        id: std::env::var("OAUTH_MOCK_CLIENT_ID").unwrap_or_else(|_| "weasel-dev".into()),
        secret: std::env::var("OAUTH_MOCK_CLIENT_SECRET").unwrap_or_else(|_| "weasel-dev-secret".into()),
    };
    let local = oauth_mock::spawn(addr, client).await?;
    println!("oauth-mock listening on http://{local}");
    std::future::pending::<()>().await;
    Ok(())
}
