//! `bedrock-emulator [ADDR]` (default 127.0.0.1:4566); `BEDROCK_EMULATOR_PACE_MS`
//! sets the time between text deltas.

use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:4566".into());
    let addr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let mut config = bedrock_emulator::Config::default();
    if let Some(ms) = std::env::var("BEDROCK_EMULATOR_PACE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.pace = Duration::from_millis(ms);
    }
    let local = bedrock_emulator::spawn(addr, config).await?;
    println!("bedrock-emulator listening on http://{local}");
    std::future::pending::<()>().await;
    Ok(())
}
