//! Accounts for an example run: signed up and confirmed through the real
//! server and a mail sink, as a person would.

use std::time::Duration;

/// Signs `email` up through `base`, opens the confirmation mail's link and
/// signs in there; `client` keeps the session cookie.
pub async fn sign_up(client: &reqwest::Client, base: &str, outbox: &mail_sink::Outbox, email: &str) {
    let password = "correct horse battery";
    let form = [
        ("email", email),
        ("password", password),
        ("confirm", password),
        ("next", "/"),
    ];
    let r = client
        .post(format!("{base}/api/sign_up"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sign-up: {}", r.status());
    let mail = outbox
        .wait_for(email, 0, Duration::from_secs(20))
        .await
        .expect("confirmation mail");
    let token = mail
        .links()
        .iter()
        .find_map(|link| link.split("verify=").nth(1).map(str::to_string))
        .expect("confirmation link");
    let form = [
        ("email", email),
        ("password", password),
        ("next", "/"),
        ("verify", token.as_str()),
    ];
    let r = client
        .post(format!("{base}/api/sign_in"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "sign-in: {}", r.status());
}
