//! The history port: the conversation list, renaming and deleting.

use app::{
    api::{ConversationList, ConversationSummary, SearchHit, SharedConversation},
    error::{AppError, Field, Problem},
    ports::History,
};

use base64::Engine;
use rand::RngCore;

use crate::{
    auth::current_user_id,
    solve::service::message_view,
    storage::{ConversationId, ListCursor, Storage, StorageError},
};

/// 256 random bits, URL-safe: a share link cannot be guessed or enumerated.
fn new_share_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` could be one [`new_share_token`] made (43 URL-safe characters);
/// anything else is refused without asking the database.
fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Conversations per page of the list.
pub const PAGE_SIZE: u32 = 30;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

pub struct HistoryService {
    pub storage: Storage,
    /// A deleted conversation's photos go with it (swept at once).
    pub images: std::sync::Arc<crate::images::Images>,
    /// A deleted conversation's streaming answers are stopped first.
    pub solver: std::sync::Arc<crate::solve::Solver>,
}

fn internal(err: StorageError) -> AppError {
    if err.is_overloaded() {
        tracing::warn!(error = %err, "database overloaded: request refused");
        return AppError::Busy;
    }
    tracing::error!(error = %err, "history storage failure");
    AppError::Internal
}

/// Results per search.
pub const SEARCH_LIMIT: u32 = 50;
/// Characters of context shown on each side of a hit.
const CONTEXT_CHARS: usize = 40;

/// Splits `content` around the first case-insensitive occurrence of `query`.
pub fn snippet(content: &str, query: &str) -> Option<(String, String, String)> {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let text: Vec<char> = content.chars().collect();
    let needle: Vec<char> = query.chars().map(fold).collect();
    if needle.is_empty() || needle.len() > text.len() {
        return None;
    }
    let at = (0..=text.len() - needle.len()).find(|&i| {
        text[i..i + needle.len()]
            .iter()
            .map(|&c| fold(c))
            .eq(needle.iter().copied())
    })?;
    let end = at + needle.len();
    let start = at.saturating_sub(CONTEXT_CHARS);
    let stop = (end + CONTEXT_CHARS).min(text.len());
    let mut before: String = text[start..at].iter().collect();
    if start > 0 {
        before.insert(0, '…');
    }
    let mut after: String = text[end..stop].iter().collect();
    if stop < text.len() {
        after.push('…');
    }
    Some((before, text[at..end].iter().collect(), after))
}

/// `"<updated_at>:<id>"`; anything else starts from the top.
fn parse_cursor(cursor: Option<&str>) -> Option<ListCursor> {
    let (updated_at, id) = cursor?.split_once(':')?;
    Some(ListCursor {
        updated_at: updated_at.parse().ok()?,
        id: ConversationId(id.parse().ok()?),
    })
}

#[async_trait::async_trait]
impl History for HistoryService {
    async fn list(&self, cursor: Option<String>) -> Result<ConversationList, AppError> {
        let user = current_user_id().await?;
        let cursor = parse_cursor(cursor.as_deref());
        let page = self
            .storage
            .conversations_page(user, cursor, PAGE_SIZE)
            .await
            .map_err(internal)?;
        let next = (page.len() == PAGE_SIZE as usize)
            .then(|| page.last().map(|c| format!("{}:{}", c.updated_at, c.id.0)))
            .flatten();
        let mut photos: std::collections::HashMap<ConversationId, String> =
            match (page.iter().map(|c| c.id).min(), page.iter().map(|c| c.id).max()) {
                (Some(first), Some(last)) => self
                    .storage
                    .conversation_photos(user, first, last)
                    .await
                    .map_err(internal)?
                    .into_iter()
                    .collect(),
                _ => Default::default(),
            };
        let items = page
            .into_iter()
            .map(|c| ConversationSummary {
                photo: photos.remove(&c.id),
                id: c.id.0,
                title_html: render::text_with_math(&c.title),
                title: c.title,
                subject: c.subject.into(),
                updated_at: c.updated_at,
            })
            .collect();
        Ok(ConversationList { items, next })
    }

    async fn rename(&self, id: i64, title: String) -> Result<(), AppError> {
        let user = current_user_id().await?;
        let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() {
            return Err(AppError::invalid(Field::Title, Problem::Required));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(AppError::invalid(Field::Title, Problem::TooLong));
        }
        match self
            .storage
            .rename_conversation(user, ConversationId(id), &title)
            .await
            .map_err(internal)?
        {
            true => Ok(()),
            false => Err(AppError::NotFound),
        }
    }

    async fn search(&self, query: String) -> Result<Vec<SearchHit>, AppError> {
        let user = current_user_id().await?;
        let query = query.trim();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        if query.chars().count() > MAX_TITLE_CHARS {
            return Err(AppError::invalid(Field::Question, Problem::TooLong));
        }
        let rows = self
            .storage
            .search_messages(user, query, SEARCH_LIMIT)
            .await
            .map_err(internal)?;
        // One hit per conversation: its newest matching message.
        let mut seen = std::collections::HashSet::new();
        Ok(rows
            .into_iter()
            .filter(|row| seen.insert(row.conversation_id))
            .filter_map(|row| {
                let (before, matched, after) = snippet(&row.content, query)?;
                Some(SearchHit {
                    conversation: row.conversation_id.0,
                    title_html: render::text_with_math(&row.title),
                    title: row.title,
                    subject: row.subject.into(),
                    at: row.created_at,
                    before,
                    matched,
                    after,
                })
            })
            .collect())
    }

    async fn delete_all(&self) -> Result<u64, AppError> {
        let user = current_user_id().await?;
        self.solver.end_streaming_of(user, None).await.map_err(internal)?;
        let deleted = self
            .storage
            .delete_all_conversations(user)
            .await
            .map_err(internal)?;
        crate::auth::service::sweep_now(&self.images);
        tracing::info!(user = user.0, deleted, "all conversations deleted");
        Ok(deleted)
    }

    async fn share(&self, id: i64) -> Result<String, AppError> {
        let user = current_user_id().await?;
        self.storage
            .share_conversation(user, ConversationId(id), &new_share_token())
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)
    }

    async fn revoke_share(&self, id: i64) -> Result<(), AppError> {
        let user = current_user_id().await?;
        match self
            .storage
            .revoke_share(user, ConversationId(id))
            .await
            .map_err(internal)?
        {
            true => Ok(()),
            false => Err(AppError::NotFound),
        }
    }

    async fn shared(&self, token: String) -> Result<SharedConversation, AppError> {
        if !plausible_token(&token) {
            return Err(AppError::NotFound);
        }
        let conversation = self
            .storage
            .shared_conversation(&token)
            .await
            .map_err(internal)?
            .ok_or(AppError::NotFound)?;
        let messages = self.storage.messages(conversation.id).await.map_err(internal)?;
        let mut images = crate::images::ids_by_message(
            self.storage
                .conversation_images(conversation.id)
                .await
                .map_err(internal)?,
        );
        Ok(SharedConversation {
            title_html: render::text_with_math(&conversation.title),
            title: conversation.title,
            subject: conversation.subject.into(),
            messages: messages
                .into_iter()
                .map(|m| {
                    let id = m.id;
                    app::api::MessageView {
                        images: images.remove(&id).unwrap_or_default(),
                        ..message_view(m)
                    }
                })
                .collect(),
        })
    }

    async fn delete(&self, id: i64) -> Result<(), AppError> {
        let user = current_user_id().await?;
        self.solver
            .end_streaming_of(user, Some(ConversationId(id)))
            .await
            .map_err(internal)?;
        match self
            .storage
            .delete_conversation(user, ConversationId(id))
            .await
            .map_err(internal)?
        {
            true => {
                crate::auth::service::sweep_now(&self.images);
                Ok(())
            }
            false => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_keep_the_original_text_around_the_hit() {
        let (before, matched, after) = snippet("식물의 광합성은 빛을 쓴다", "광합성").unwrap();
        assert_eq!(
            (before.as_str(), matched.as_str(), after.as_str()),
            ("식물의 ", "광합성", "은 빛을 쓴다")
        );
        let (_, matched, _) = snippet("About PhotoSynthesis", "photosynthesis").unwrap();
        assert_eq!(matched, "PhotoSynthesis");
        let long = format!("{}광합성{}", "가".repeat(100), "나".repeat(100));
        let (before, _, after) = snippet(&long, "광합성").unwrap();
        assert!(before.starts_with('…') && after.ends_with('…'));
        assert_eq!(before.chars().count(), 41);
        assert_eq!(snippet("abc", "zzz"), None);
    }

    #[test]
    fn share_tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_share_token(), new_share_token());
        assert_ne!(a, b);
        assert!(plausible_token(&a) && plausible_token(&b), "{a}");
        assert!(!plausible_token("short"));
        assert!(!plausible_token(&format!("{}/", &a[..42])));
    }

    #[test]
    fn cursors_parse_or_start_over() {
        assert_eq!(
            parse_cursor(Some("1700000000000:42")),
            Some(ListCursor {
                updated_at: 1_700_000_000_000,
                id: ConversationId(42)
            })
        );
        assert_eq!(parse_cursor(Some("garbage")), None);
        assert_eq!(parse_cursor(Some("1:x")), None);
        assert_eq!(parse_cursor(None), None);
    }
}
