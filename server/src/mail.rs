//! Outgoing mail: verification links, password resets and the notice to an
//! owner that someone tried to register their address. Sent over SMTP
//! (`WEASEL_SMTP_URL`) with lettre; in development without SMTP, written as
//! `.eml` files to `WEASEL_DATA_DIR/outbox`, never to the log (the links in
//! them are secrets).
//!
//! Sending happens in the background: a request never waits for the mail
//! server, so how long it takes cannot tell whether an address has an account.

use std::path::PathBuf;

use app::i18n::Lang;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, SinglePart, header::ContentTransferEncoding},
};

use crate::config::MailSettings;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("WEASEL_SMTP_URL is not a usable SMTP URL: {0}")]
    Url(String),
    #[error("WEASEL_MAIL_FROM is not a mailbox: {0}")]
    From(String),
    #[error("cannot create the outbox directory {0}: {1}")]
    Outbox(PathBuf, std::io::Error),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

/// One message, already in the reader's language.
pub struct Mail {
    pub subject: String,
    pub body: String,
}

impl Mailer {
    pub fn new(settings: &MailSettings) -> Result<Self, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailError::From(e.to_string()))?;
        let transport = match &settings.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // lettre's message would echo the URL, password and all.
                    .map_err(|_| MailError::Url("value not shown, it may hold a password".into()))?
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&settings.outbox_dir)
                    .map_err(|e| MailError::Outbox(settings.outbox_dir.clone(), e))?;
                tracing::warn!(
                    outbox = %settings.outbox_dir.display(),
                    "WEASEL_SMTP_URL is not set: mail is written to files there, not sent"
                );
                Transport::Files(AsyncFileTransport::new(&settings.outbox_dir))
            }
        };
        Ok(Mailer { transport, from })
    }

    /// Sends `mail` to `to` in the background; a failure is logged (without
    /// the message, which holds a secret link) and otherwise dropped.
    pub fn send(&self, to: &str, mail: Mail) {
        let message = match self.message(to, mail) {
            Ok(message) => message,
            Err(err) => {
                tracing::error!(error = %err, "mail could not be built");
                return;
            }
        };
        let transport = self.transport.clone();
        tokio::spawn(async move {
            let sent = match &transport {
                Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
                Transport::Files(files) => files.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            };
            match sent {
                Ok(()) => metrics::counter!("weasel_mail_sent_total").increment(1),
                Err(err) => {
                    metrics::counter!("weasel_mail_failed_total").increment(1);
                    tracing::error!(error = %err, "mail could not be sent");
                }
            }
        });
    }

    fn message(&self, to: &str, mail: Mail) -> Result<Message, String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .singlepart(
                SinglePart::builder()
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(mail.body),
            )
            .map_err(|e| e.to_string())
    }
}

/// The messages Weasel sends, in Korean or English.
pub mod messages {
    use super::{Lang, Mail};

    pub fn verify_email(lang: Lang, link: &str) -> Mail {
        match lang {
            Lang::Ko => Mail {
                subject: "Weasel 이메일 주소를 확인해 주세요".into(),
                body: format!(
                    "Weasel에 가입해 주셔서 고마워요.\n\n아래 링크를 열고 가입할 때 정한 비밀번호로 로그인하면 이메일 주소 확인이 끝나요. \
                     링크는 24시간 동안, 한 번만 쓸 수 있어요.\n\n{link}\n\n직접 가입하지 않았다면 이 메일은 무시해도 돼요."
                ),
            },
            Lang::En => Mail {
                subject: "Confirm your email for Weasel".into(),
                body: format!(
                    "Thanks for signing up for Weasel.\n\nOpen this link and sign in with the password you chose to confirm your address. \
                     It works once, for 24 hours.\n\n{link}\n\nIf you did not sign up, ignore this email."
                ),
            },
        }
    }

    pub fn already_registered(lang: Lang, sign_in: &str, reset: &str) -> Mail {
        match lang {
            Lang::Ko => Mail {
                subject: "Weasel 가입 시도가 있었어요".into(),
                body: format!(
                    "누군가 이 이메일 주소로 Weasel에 새로 가입하려고 했어요. 이 주소로 만든 계정이 이미 있어요.\n\n\
                     본인이라면 로그인해 주세요: {sign_in}\n비밀번호가 기억나지 않으면 새로 정해 주세요: {reset}\n\n\
                     본인이 아니라면 아무것도 하지 않아도 돼요. 계정은 그대로예요."
                ),
            },
            Lang::En => Mail {
                subject: "Someone tried to sign up with your email".into(),
                body: format!(
                    "Someone tried to create a Weasel account with this address, which already has one.\n\n\
                     If it was you, sign in: {sign_in}\nForgot your password? Set a new one: {reset}\n\n\
                     If it was not you, there is nothing to do: your account is unchanged."
                ),
            },
        }
    }

    /// After any change of password (ASVS: tell the owner of credential changes).
    pub fn password_changed(lang: Lang, reset: &str) -> Mail {
        match lang {
            Lang::Ko => Mail {
                subject: "Weasel 비밀번호가 바뀌었어요".into(),
                body: format!(
                    "방금 Weasel 계정의 비밀번호가 바뀌었고, 다른 기기의 로그인은 모두 끝났어요.\n\n\
                     본인이 바꾸지 않았다면 지금 비밀번호를 새로 정해 주세요: {reset}"
                ),
            },
            Lang::En => Mail {
                subject: "Your Weasel password was changed".into(),
                body: format!(
                    "The password of your Weasel account was just changed, and every other sign-in ended.\n\n\
                     If this was not you, choose a new password now: {reset}"
                ),
            },
        }
    }

    pub fn reset_password(lang: Lang, link: &str) -> Mail {
        match lang {
            Lang::Ko => Mail {
                subject: "Weasel 비밀번호 재설정".into(),
                body: format!(
                    "비밀번호를 새로 정하려면 아래 링크를 열어 주세요. 링크는 15분 동안, 한 번만 쓸 수 있어요.\n\n{link}\n\n\
                     요청하지 않았다면 이 메일은 무시해도 돼요. 비밀번호는 바뀌지 않아요."
                ),
            },
            Lang::En => Mail {
                subject: "Reset your Weasel password".into(),
                body: format!(
                    "Open this link to choose a new password. It works once, for 15 minutes.\n\n{link}\n\n\
                     If you did not ask for this, ignore this email: your password stays the same."
                ),
            },
        }
    }
}
