//! The server functions. Each is a thin shell around a port (see `ports`);
//! the types they carry are in `dto`, re-exported here.

use leptos::prelude::*;

pub use crate::dto::*;
use crate::error::AppError;

/// Only a path on this site may be a redirect target (no open redirects).
/// Browsers drop tabs and newlines from URLs and read `\\` as `/`, so
/// `/<TAB>/evil.example` would be `//evil.example`: any control character,
/// whitespace or backslash makes the target `/`, which also keeps every
/// `Location` header valid.
pub fn safe_next(next: &str) -> String {
    let valid = next.starts_with('/')
        && !next.starts_with("//")
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace());
    if valid { next.to_string() } else { "/".to_string() }
}

/// Redirects a plain HTML form post (no JavaScript yet) to `path`. The
/// hydrated page instead reloads itself on success (`auth::reload_on_success`),
/// so it is never sent anywhere by a server function behind its back.
#[cfg(feature = "ssr")]
fn redirect_form(path: &str) {
    if crate::ports::is_form_post() {
        leptos_axum::redirect(path);
    }
}

/// Asks the server whether it and its database are healthy.
#[server(prefix = "/api", endpoint = "status")]
pub async fn check_status() -> Result<ServiceStatus, AppError> {
    let services = crate::ports::services()?;
    Ok(services.health.status().await)
}

#[server(prefix = "/api", endpoint = "me")]
pub async fn current_user() -> Result<Option<UserView>, AppError> {
    crate::ports::services()?.accounts.current_user().await
}

#[server(prefix = "/api", endpoint = "providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderView>, AppError> {
    Ok(crate::ports::services()?.accounts.providers())
}

/// Starts an account: the confirmation link goes to `email`; nobody is
/// signed in until it is opened (and the password entered once more).
#[server(prefix = "/api", endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, confirm: String, next: String) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    crate::ports::respond(accounts.sign_up(email, password, confirm).await)?;
    redirect_form(&format!(
        "/sign-up?sent=1&next={}",
        crate::auth::encode_component(&safe_next(&next))
    ));
    Ok(())
}

/// `verify`: the token of a confirmation link, when the sign-in page was opened from one.
#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(
    email: String,
    password: String,
    next: String,
    verify: Option<String>,
) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    let verify = verify.filter(|token| !token.is_empty());
    crate::ports::respond(accounts.sign_in(email, password, verify).await)?;
    redirect_form(&safe_next(&next));
    Ok(())
}

/// Mails a password-reset link (if the address has an account).
#[server(prefix = "/api", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    crate::ports::respond(accounts.request_password_reset(email).await)?;
    redirect_form("/forgot-password?sent=1");
    Ok(())
}

/// Sets a new password with the token of a reset link.
#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String, confirm: String) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    crate::ports::respond(accounts.reset_password(token, password, confirm).await)?;
    redirect_form("/sign-in?reset=1");
    Ok(())
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::ports::respond(crate::ports::services()?.accounts.sign_out().await)?;
    redirect_form("/");
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current: String, password: String, confirm: String) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    crate::ports::respond(accounts.change_password(current, password, confirm).await)
}

/// Deletes the account and everything in it; `confirm` must repeat the email.
#[server(prefix = "/api", endpoint = "delete_account")]
pub async fn delete_account(confirm: String) -> Result<(), AppError> {
    let accounts = crate::ports::services()?.accounts;
    crate::ports::respond(accounts.delete_account(confirm).await)?;
    redirect_form("/");
    Ok(())
}

/// Asks a question: in a new conversation, or as a follow-up in `conversation`,
/// with the photos uploaded for it (`images`, ids joined by commas);
/// `transcribed`: the question is the student's checked transcript of them.
#[server(prefix = "/api", endpoint = "ask")]
pub async fn ask(
    conversation: Option<i64>,
    subject: String,
    question: String,
    images: Option<String>,
    transcribed: Option<String>,
) -> Result<Asked, AppError> {
    let subject = Subject::from_code(&subject).unwrap_or_default();
    let solve = crate::ports::services()?.solve;
    // The photos' ids, comma-separated (a form field).
    let images: Vec<String> = images
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(String::from)
        .collect();
    let transcribed = transcribed.is_some_and(|t| t == "1" || t == "true");
    let asked = crate::ports::respond(
        solve
            .ask(conversation, subject, question, images, transcribed)
            .await,
    )?;
    redirect_form(&format!("/c/{}", asked.conversation));
    Ok(asked)
}

/// The signed-in student's use today and this month.
#[server(prefix = "/api", endpoint = "usage")]
pub async fn my_usage() -> Result<UsageView, AppError> {
    crate::ports::respond(crate::ports::services()?.solve.usage().await)
}

#[server(prefix = "/api", endpoint = "conversation")]
pub async fn get_conversation(id: i64) -> Result<ConversationView, AppError> {
    crate::ports::respond(crate::ports::services()?.solve.conversation(id).await)
}

/// Stops an answer that is being written; it keeps what it has.
#[server(prefix = "/api", endpoint = "stop")]
pub async fn stop_answer(answer: i64) -> Result<(), AppError> {
    let solve = crate::ports::services()?.solve;
    let conversation = crate::ports::respond(solve.stop(answer).await)?;
    redirect_form(&format!("/c/{conversation}"));
    Ok(())
}

/// Writes a failed, stopped or interrupted last answer again.
#[server(prefix = "/api", endpoint = "retry")]
pub async fn retry_answer(answer: i64) -> Result<Asked, AppError> {
    let solve = crate::ports::services()?.solve;
    let asked = crate::ports::respond(solve.retry(answer).await)?;
    redirect_form(&format!("/c/{}", asked.conversation));
    Ok(asked)
}

/// Gives a question new text; every answer after it is replaced by a new one.
#[server(prefix = "/api", endpoint = "edit_question")]
pub async fn edit_question(question: i64, text: String) -> Result<Asked, AppError> {
    let solve = crate::ports::services()?.solve;
    let asked = crate::ports::respond(solve.edit(question, text).await)?;
    redirect_form(&format!("/c/{}", asked.conversation));
    Ok(asked)
}

/// The signed-in user's conversations, newest activity first.
#[server(prefix = "/api", endpoint = "conversations")]
pub async fn list_conversations(cursor: Option<String>) -> Result<ConversationList, AppError> {
    crate::ports::respond(crate::ports::services()?.history.list(cursor).await)
}

#[server(prefix = "/api", endpoint = "rename")]
pub async fn rename_conversation(id: i64, title: String) -> Result<(), AppError> {
    crate::ports::respond(crate::ports::services()?.history.rename(id, title).await)?;
    redirect_form(&format!("/c/{id}"));
    Ok(())
}

/// Deletes a conversation with all its messages.
#[server(prefix = "/api", endpoint = "delete_conversation")]
pub async fn delete_conversation(id: i64) -> Result<(), AppError> {
    crate::ports::respond(crate::ports::services()?.history.delete(id).await)?;
    redirect_form("/");
    Ok(())
}

/// Deletes all of the signed-in user's conversations (the account stays).
#[server(prefix = "/api", endpoint = "delete_all_conversations")]
pub async fn delete_all_conversations() -> Result<u64, AppError> {
    let deleted = crate::ports::respond(crate::ports::services()?.history.delete_all().await)?;
    redirect_form("/profile");
    Ok(deleted)
}

/// The first page of the list beside every page; `None` for a visitor who
/// is not signed in (not an error: every page asks).
#[server(prefix = "/api", endpoint = "sidebar")]
pub async fn sidebar_conversations() -> Result<Option<ConversationList>, AppError> {
    match crate::ports::services()?.history.list(None).await {
        Ok(list) => Ok(Some(list)),
        Err(AppError::Unauthorized) => Ok(None),
        Err(err) => crate::ports::respond(Err(err)),
    }
}

/// Makes (or returns) the conversation's read-only public link token.
#[server(prefix = "/api", endpoint = "share")]
pub async fn share_conversation(id: i64) -> Result<String, AppError> {
    let token = crate::ports::respond(crate::ports::services()?.history.share(id).await)?;
    redirect_form(&format!("/c/{id}"));
    Ok(token)
}

/// Ends the conversation's public link: the token never works again.
#[server(prefix = "/api", endpoint = "revoke_share")]
pub async fn revoke_share(id: i64) -> Result<(), AppError> {
    crate::ports::respond(crate::ports::services()?.history.revoke_share(id).await)?;
    redirect_form(&format!("/c/{id}"));
    Ok(())
}

/// A shared conversation, for anyone holding the token (no sign-in).
#[server(prefix = "/api", endpoint = "shared")]
pub async fn get_shared(token: String) -> Result<SharedConversation, AppError> {
    crate::ports::respond(crate::ports::services()?.history.shared(token).await)
}

/// Searches the signed-in user's questions and answers.
#[server(prefix = "/api", endpoint = "search")]
pub async fn search(query: String) -> Result<Vec<SearchHit>, AppError> {
    crate::ports::respond(crate::ports::services()?.history.search(query).await)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(safe_next("/profile?tab=1"), "/profile?tab=1");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
        // Found by the outside assessment: browsers drop the tab.
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\n/evil.example"), "/");
        assert_eq!(safe_next("/ /evil.example"), "/");
        assert_eq!(safe_next("/a\r\nSet-Cookie: x=1"), "/");
        assert_eq!(safe_next("/\u{0}"), "/");
        assert_eq!(safe_next("/search?q=%EA%B4%91"), "/search?q=%EA%B4%91");
    }
}
