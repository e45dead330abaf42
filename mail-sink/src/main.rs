//! `mail-sink [SMTP_ADDR] [HTTP_ADDR]`: receives mail over SMTP (default
//! 127.0.0.1:2525) and lists it at `GET /messages?to=ADDRESS` (default
//! 127.0.0.1:2580).

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let parse = |arg: Option<String>, default: &str| {
        let text = arg.unwrap_or_else(|| default.into());
        text.parse::<std::net::SocketAddr>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{text}: {e}")))
    };
    let mut args = std::env::args().skip(1);
    let smtp = parse(args.next(), "127.0.0.1:2525")?;
    let http = parse(args.next(), "127.0.0.1:2580")?;
    let outbox = mail_sink::Outbox::default();
    let smtp = mail_sink::spawn_smtp(smtp, outbox.clone()).await?;
    let http = mail_sink::spawn_http(http, outbox).await?;
    println!("mail-sink: SMTP on {smtp}, messages at http://{http}/messages?to=");
    std::future::pending::<()>().await;
    Ok(())
}
