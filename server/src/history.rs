//! The history port: the conversation list, renaming and deleting.

use app::{
    api::{ConversationList, ConversationSummary},
    error::{AppError, Field, Problem},
    ports::History,
};

use crate::{
    auth::current_user_id,
    storage::{ConversationId, ListCursor, Storage, StorageError},
};

/// Conversations per page of the list.
pub const PAGE_SIZE: u32 = 30;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

pub struct HistoryService {
    pub storage: Storage,
}

fn internal(err: StorageError) -> AppError {
    tracing::error!(error = %err, "history storage failure");
    AppError::Internal
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
        let items = page
            .into_iter()
            .map(|c| ConversationSummary {
                id: c.id.0,
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

    async fn delete(&self, id: i64) -> Result<(), AppError> {
        let user = current_user_id().await?;
        match self
            .storage
            .delete_conversation(user, ConversationId(id))
            .await
            .map_err(internal)?
        {
            true => Ok(()),
            false => Err(AppError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
