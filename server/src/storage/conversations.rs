//! Conversations and their messages.

use super::{
    AnswerOutcome, AnswerStats, Begun, Conversation, ConversationId, Message, MessageId, MessageStatus,
    NewMessage, NewQuestion, Refused, Result, Storage, StorageError, Subject, UserId, now_millis,
};

/// In transaction `$tx`: marks conversation `$id` active at `$now`; a
/// missing conversation is `NotFound`.
macro_rules! touch_conversation {
    ($tx:expr, $id:expr, $now:expr) => {{
        let touched = sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
            .bind($now)
            .bind($id)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        if touched == 0 {
            return Err(StorageError::NotFound("conversation"));
        }
    }};
}

/// In transaction `$tx`: a new empty answer in `$conversation`, marked
/// streaming, from `$model_id`, holding `$micros` of day `$day`'s budget
/// (both `Option`), and, with `$lease` (`Option<(owner, Duration)>`), leased
/// to its writer. The answer's row.
macro_rules! insert_answer {
    ($tx:expr, $conversation:expr, $model_id:expr, $micros:expr, $day:expr, $lease:expr, $now:expr) => {{
        let answer = sqlx::query_as::<_, Message>(
            "INSERT INTO messages (conversation_id, role, content, status, created_at, model_id, cost_micros, cost_day)
             VALUES ($1, $2, '', $3, $4, $5, $6, $7)
             RETURNING id, conversation_id, role, content, status, error, created_at",
        )
        .bind($conversation)
        .bind(super::Role::Assistant)
        .bind(MessageStatus::Streaming)
        .bind($now)
        .bind($model_id)
        .bind($micros)
        .bind($day)
        .fetch_one(&mut *$tx)
        .await?;
        if let Some((owner, lease)) = $lease {
            sqlx::query("INSERT INTO answer_leases (message_id, owner, expires_at) VALUES ($1, $2, $3)")
                .bind(answer.id)
                .bind(owner)
                .bind($now + lease.as_millis() as i64)
                .execute(&mut *$tx)
                .await?;
        }
        answer
    }};
}

/// In transaction `$tx`: records how answer `$id` ended (`$status`,
/// `$outcome`: its full text and usage) and drops its lease; the only
/// write of its row while it lived. An answer another replica marked
/// interrupted meanwhile (this process could not renew its lease) gets its
/// full text back. Its real cost replaces its reservation, once.
macro_rules! finish_in {
    ($tx:expr, $id:expr, $status:expr, $outcome:expr) => {{
        let (id, outcome) = ($id, $outcome);
        let reserved: Option<(Option<i64>, Option<String>, $crate::storage::UserId)> = sqlx::query_as(
            "SELECT m.cost_micros, m.cost_day, c.user_id FROM messages m
             JOIN conversations c ON c.id = m.conversation_id WHERE m.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *$tx)
        .await?;
        let ended = sqlx::query(
            "UPDATE messages SET content = $1, status = $2, error = $3, stop_reason = $4, input_tokens = $5,
                 output_tokens = $6, cache_read_tokens = $7, cache_write_tokens = $8, first_token_ms = $9,
                 total_ms = $10, cost_micros = $12
             WHERE id = $11 AND status IN ('streaming', 'interrupted')",
        )
        .bind(&outcome.content)
        .bind($status)
        .bind(&outcome.error)
        .bind(&outcome.stop_reason)
        .bind(outcome.input_tokens)
        .bind(outcome.output_tokens)
        .bind(outcome.cache_read_tokens)
        .bind(outcome.cache_write_tokens)
        .bind(outcome.first_token_ms)
        .bind(outcome.total_ms)
        .bind(id)
        .bind(outcome.cost_micros)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        drop_streaming_rows!($tx, id);
        // Only when this statement ended it. Last, so the day's rows, which
        // every new question updates too, stay locked only for the commit.
        if let (1, Some((reserved, Some(day), user))) = (ended, reserved) {
            let tokens = outcome.input_tokens + outcome.output_tokens + outcome.cache_read_tokens
                + outcome.cache_write_tokens;
            sqlx::query(
                "UPDATE user_days SET tokens = tokens + $3, spent_micros = spent_micros + $4
                 WHERE user_id = $1 AND day = $2",
            )
            .bind(user)
            .bind(&day)
            .bind(tokens)
            .bind(outcome.cost_micros)
            .execute(&mut *$tx)
            .await?;
            sqlx::query(
                "UPDATE spend_days SET spent_micros = spent_micros + $2, reserved_micros = reserved_micros - $3
                 WHERE day = $1",
            )
            .bind(&day)
            .bind(outcome.cost_micros)
            .bind(reserved.unwrap_or(0))
            .execute(&mut *$tx)
            .await?;
        }
    }};
}
pub(super) use finish_in;

/// In transaction `$tx`: what question `$new` (a [`NewQuestion`]) writes
/// at `$now` (see [`Storage::begin_question`]), as a
/// `Result<Result<Begun, Refused>>`. A refusal comes after its writes: the
/// caller rolls them back.
macro_rules! question_in {
    ($tx:expr, $new:expr, $now:expr) => {{
        let (new, now): (&NewQuestion<'_>, i64) = ($new, $now);
        let reservation = &new.reservation;
        let conversation = match new.conversation {
            Some(id) => sqlx::query_as::<_, Conversation>(
                "UPDATE conversations SET updated_at = $1 WHERE id = $2 AND user_id = $3
                 RETURNING id, user_id, title, subject, created_at, updated_at",
            )
            .bind(now)
            .bind(id)
            .bind(new.user)
            .fetch_optional(&mut *$tx)
            .await?
            .ok_or(StorageError::NotFound("conversation"))?,
            None => {
                sqlx::query_as::<_, Conversation>(
                    "INSERT INTO conversations (user_id, title, subject, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $4)
                     RETURNING id, user_id, title, subject, created_at, updated_at",
                )
                .bind(new.user)
                .bind(new.title)
                .bind(new.subject)
                .bind(now)
                .fetch_one(&mut *$tx)
                .await?
            }
        };
        let question = sqlx::query_as::<_, Message>(
            "INSERT INTO messages (conversation_id, role, content, status, created_at)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING id, conversation_id, role, content, status, error, created_at",
        )
        .bind(conversation.id)
        .bind(super::Role::User)
        .bind(new.question)
        .bind(MessageStatus::Complete)
        .bind(now)
        .fetch_one(&mut *$tx)
        .await?;
        super::images::attach_images!($tx, new.user, question.id, new.images, new.transcribed, now);
        let answer = insert_answer!(
            $tx,
            conversation.id,
            new.model_id,
            reservation.micros,
            reservation.day.as_str(),
            Some(new.lease),
            now
        );
        // The limits last: the day's row, which every question updates,
        // stays locked only until the commit right after.
        match super::spending::admit_in!(
            $tx,
            new.user,
            reservation.day.as_str(),
            new.limits,
            reservation.micros
        ) {
            Some(refused) => Ok(Err(refused)),
            None => Ok(Ok(Begun {
                conversation,
                question,
                answer,
            })),
        }
    }};
}

impl Storage {
    pub async fn create_conversation(
        &self,
        user: UserId,
        subject: Subject,
        title: &str,
    ) -> Result<Conversation> {
        let now = now_millis();
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "INSERT INTO conversations (user_id, title, subject, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             RETURNING id, user_id, title, subject, created_at, updated_at",
        )
        .bind(user)
        .bind(title)
        .bind(subject)
        .bind(now)
        .fetch_one(pool)
        .await)?)
    }

    /// Everything a new question writes, in one transaction (one commit):
    /// the conversation (new, or the existing one marked active), the
    /// question, the empty answer marked streaming and its lease, then the
    /// student's count and the budget's reservation; a refusal leaves
    /// nothing written.
    pub async fn begin_question(&self, new: &NewQuestion<'_>) -> Result<std::result::Result<Begun, Refused>> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            let begun = async { question_in!(tx, new, now) }.await?;
            // A refusal rolls everything back (the transaction is dropped).
            if begun.is_ok() {
                tx.commit().await?;
            }
            Ok(begun)
        })
    }

    /// Several questions in ONE transaction (group commit): each as
    /// [`Self::begin_question`] writes it, in a savepoint of its own, so a
    /// refused or failing question leaves nothing and the others are kept.
    /// The outer error: the transaction could not begin or commit, and
    /// none was written.
    ///
    /// SQLite's WAL takes whole pages, and one question changes about a
    /// dozen (the ends of the conversations', messages', leases' tables and
    /// of their indexes, the day's rows): questions written together share
    /// them.
    #[tracing::instrument(skip_all, fields(questions = news.len()))]
    pub async fn begin_questions(
        &self,
        news: &[NewQuestion<'_>],
    ) -> Result<Vec<Result<std::result::Result<Begun, Refused>>>> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            let mut results = Vec::with_capacity(news.len());
            for new in news {
                let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
                let begun = async { question_in!(savepoint, new, now) }.await;
                if matches!(begun, Ok(Ok(_))) {
                    savepoint.commit().await?;
                } else {
                    savepoint.rollback().await?;
                }
                results.push(begun);
            }
            tx.commit().await?;
            Ok(results)
        })
    }

    /// The conversation if it exists AND belongs to `user`: another user's
    /// conversation is indistinguishable from a missing one.
    pub async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Option<Conversation>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT id, user_id, title, subject, created_at, updated_at
             FROM conversations WHERE id = $1 AND user_id = $2",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await)?)
    }

    /// The user's conversations, most recent activity first.
    pub async fn conversations(&self, user: UserId, limit: u32) -> Result<Vec<Conversation>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT id, user_id, title, subject, created_at, updated_at
             FROM conversations WHERE user_id = $1
             ORDER BY updated_at DESC, id DESC LIMIT $2",
        )
        .bind(user)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?)
    }

    /// Appends a message and marks the conversation active, atomically.
    pub async fn append_message(
        &self,
        conversation: ConversationId,
        new: &NewMessage<'_>,
    ) -> Result<Message> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            touch_conversation!(tx, conversation, now);
            let message = sqlx::query_as::<_, Message>(
                "INSERT INTO messages (conversation_id, role, content, status, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 RETURNING id, conversation_id, role, content, status, error, created_at",
            )
            .bind(conversation)
            .bind(new.role)
            .bind(new.content)
            .bind(new.status)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(message)
        })
    }

    /// The conversation's messages as stored (a streaming answer's text
    /// left empty), and whether any has photos: the model's context in one
    /// query, so an answer without photos never looks for them.
    pub async fn messages_for_model(&self, conversation: ConversationId) -> Result<(Vec<Message>, bool)> {
        #[derive(sqlx::FromRow)]
        struct Flagged {
            #[sqlx(flatten)]
            message: Message,
            photos: i64,
        }
        let rows = on_pool!(self, pool => sqlx::query_as::<_, Flagged>(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.status, m.error, m.created_at,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM images i WHERE i.message_id = m.id)
                         THEN 1 ELSE 0 END AS BIGINT) AS photos
             FROM messages m WHERE m.conversation_id = $1 ORDER BY m.id",
        )
        .bind(conversation)
        .fetch_all(pool)
        .await)?;
        let photos = rows.iter().any(|r| r.photos > 0);
        // A streaming answer's text is not read: the model is only shown
        // answers that are complete.
        Ok((rows.into_iter().map(|r| r.message).collect(), photos))
    }

    pub async fn messages(&self, conversation: ConversationId) -> Result<Vec<Message>> {
        self.messages_with(conversation, |_| None).await
    }

    /// [`Storage::messages`], where `live` gives the text of a streaming
    /// answer this process holds in memory (ahead of the journal, and not
    /// read from it).
    pub async fn messages_with(
        &self,
        conversation: ConversationId,
        live: impl Fn(MessageId) -> Option<String>,
    ) -> Result<Vec<Message>> {
        let messages = on_pool!(self, pool => sqlx::query_as::<_, Message>(
            "SELECT id, conversation_id, role, content, status, error, created_at
             FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation)
        .fetch_all(pool)
        .await)?;
        self.with_streaming_text(messages, live).await
    }
}

impl Storage {
    /// The message with the user who owns its conversation; `None` when it
    /// does not exist or belongs to someone else.
    pub async fn message_of(&self, user: UserId, id: MessageId) -> Result<Option<Message>> {
        let message = self.stored_message_of(user, id).await?;
        Ok(self
            .with_streaming_text(message.into_iter().collect(), |_| None)
            .await?
            .pop())
    }

    /// [`Storage::message_of`] as its row holds it: a streaming answer's
    /// content is empty (its text is not read from the journal). For a
    /// check of who may see it, or of its state.
    pub async fn stored_message_of(&self, user: UserId, id: MessageId) -> Result<Option<Message>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Message>(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.status, m.error, m.created_at
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.id = $1 AND c.user_id = $2",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(pool)
        .await)?)
    }

    /// A message by id alone, its streaming text included (callers checked
    /// who may see it).
    pub async fn answer(&self, id: MessageId) -> Result<Option<Message>> {
        let message = self.stored_answer(id).await?;
        Ok(self
            .with_streaming_text(message.into_iter().collect(), |_| None)
            .await?
            .pop())
    }

    /// [`Storage::answer`] as its row holds it (a streaming answer's content empty).
    pub async fn stored_answer(&self, id: MessageId) -> Result<Option<Message>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Message>(
            "SELECT id, conversation_id, role, content, status, error, created_at FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The answers of `user` still streaming, in `conversation` or in any
    /// of theirs.
    pub async fn streaming_answers_of(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<Vec<MessageId>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, MessageId>(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.status = 'streaming' AND c.user_id = $1 AND ($2 IS NULL OR c.id = $2)",
        )
        .bind(user)
        .bind(conversation)
        .fetch_all(pool)
        .await)?)
    }

    /// Those of `ids` that still exist, as stored rows (a streaming answer's
    /// content is empty here: its text is in chunks).
    #[tracing::instrument(skip_all, fields(answers = ids.len()))]
    pub async fn answers_among(&self, ids: &[MessageId]) -> Result<Vec<Message>> {
        let mut found = vec![];
        for batch in ids.chunks(500) {
            let rows: Vec<Message> = on_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT id, conversation_id, role, content, status, error, created_at FROM messages WHERE id IN (",
                );
                let mut list = query.separated(", ");
                for id in batch {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await
            })?;
            found.extend(rows);
        }
        Ok(found)
    }

    /// Stored `messages` with each streaming answer's text so far as its
    /// content (its row's is empty until it ends): what `live` gives (an
    /// answer this process holds in memory), else what the journal holds,
    /// read once for all of them.
    pub async fn with_streaming_text(
        &self,
        mut messages: Vec<Message>,
        live: impl Fn(MessageId) -> Option<String>,
    ) -> Result<Vec<Message>> {
        let mut unread = vec![];
        for message in messages
            .iter_mut()
            .filter(|m| m.status == MessageStatus::Streaming)
        {
            match live(message.id) {
                Some(text) => message.content = text,
                None => unread.push((message.id, message.created_at)),
            }
        }
        if unread.is_empty() {
            return Ok(messages);
        }
        let mut texts = self.streaming_text(&unread).await?;
        for message in &mut messages {
            if let Some(text) = texts.remove(&message.id) {
                message.content.push_str(&text);
            }
        }
        Ok(messages)
    }

    /// Records how an answer ended, with its full text, and drops its lease,
    /// in one transaction of its own. The solver records ends with its
    /// flushes instead ([`Storage::flush`]); this is the same write alone.
    pub async fn finish_answer(
        &self,
        id: MessageId,
        status: MessageStatus,
        outcome: &AnswerOutcome,
    ) -> Result<()> {
        let end = super::End { id, status, outcome };
        let mut flushed = self.flush(&[], std::slice::from_ref(&end)).await?;
        flushed.ends.pop().expect("one result per end")
    }

    /// Starts an empty answer, marked streaming, from `model_id`, holding
    /// `reservation` of its day's budget until it ends and, with `lease`,
    /// leased to its writer: one transaction, so a new question costs the
    /// database as few writes as it can.
    pub async fn start_answer(
        &self,
        conversation: ConversationId,
        model_id: &str,
        reservation: Option<&super::Reservation>,
        lease: Option<(&str, std::time::Duration)>,
    ) -> Result<Message> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            touch_conversation!(tx, conversation, now);
            let micros = reservation.map(|r| r.micros);
            let day = reservation.map(|r| r.day.as_str());
            let answer = insert_answer!(tx, conversation, model_id, micros, day, lease, now);
            tx.commit().await?;
            Ok(answer)
        })
    }

    /// Characters in a conversation's messages (the context a new answer is sent).
    pub async fn conversation_chars(&self, conversation: ConversationId) -> Result<usize> {
        let chars: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(LENGTH(content)), 0) AS BIGINT) FROM messages WHERE conversation_id = $1",
        )
        .bind(conversation)
        .fetch_one(pool)
        .await)?;
        Ok(chars.max(0) as usize)
    }

    /// Token use and cost of a conversation's finished answers.
    pub async fn answer_usage(
        &self,
        conversation: ConversationId,
    ) -> Result<Vec<(MessageId, super::AnswerUsage)>> {
        let rows: Vec<(MessageId, i64, i64, i64, i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, COALESCE(input_tokens, 0), COALESCE(output_tokens, 0), COALESCE(cache_read_tokens, 0),
                    COALESCE(cache_write_tokens, 0), cost_micros
             FROM messages
             WHERE conversation_id = $1 AND role = 'assistant' AND status <> 'streaming' AND cost_micros IS NOT NULL",
        )
        .bind(conversation)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(id, input, output, read, write, cost)| {
                let usage = super::AnswerUsage {
                    input_tokens: input,
                    output_tokens: output,
                    cache_read_tokens: read,
                    cache_write_tokens: write,
                    cost_micros: cost,
                };
                (id, usage)
            })
            .collect())
    }

    pub async fn answer_stats(&self, id: MessageId) -> Result<Option<AnswerStats>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AnswerStats>(
            "SELECT model_id, stop_reason, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                    first_token_ms, total_ms
             FROM messages WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }
}

impl Storage {
    /// Deletes one message (an answer about to be written again).
    pub async fn delete_message(&self, id: MessageId) -> Result<()> {
        on_pool!(self, pool => sqlx::query("DELETE FROM messages WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Gives a question new text and deletes every message after it (its
    /// answer and any later turns), in one transaction: the conversation
    /// never shows the new question beside the old answers.
    pub async fn replace_question(&self, question: &Message, content: &str) -> Result<Message> {
        let now = now_millis();
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            sqlx::query("DELETE FROM messages WHERE conversation_id = $1 AND id > $2")
                .bind(question.conversation_id)
                .bind(question.id)
                .execute(&mut *tx)
                .await?;
            let message = sqlx::query_as::<_, Message>(
                "UPDATE messages SET content = $1 WHERE id = $2
                 RETURNING id, conversation_id, role, content, status, error, created_at",
            )
            .bind(content)
            .bind(question.id)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(question.conversation_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(message)
        })
    }

    /// The newest message of a conversation.
    pub async fn last_message_id(&self, conversation: ConversationId) -> Result<Option<MessageId>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, MessageId>(
            "SELECT id FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation)
        .fetch_optional(pool)
        .await)?)
    }
}

/// Where a page of the conversation list continues: the last row's activity
/// time and id (keyset pagination: every page is one index range scan, however
/// many conversations the user has).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListCursor {
    pub updated_at: i64,
    pub id: ConversationId,
}

impl Storage {
    /// Up to `limit` conversations, newest activity first, after `cursor`.
    pub async fn conversations_page(
        &self,
        user: UserId,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> Result<Vec<Conversation>> {
        let (updated_at, id) = cursor.map_or((i64::MAX, ConversationId(i64::MAX)), |c| (c.updated_at, c.id));
        Ok(on_pool!(self, pool => sqlx::query_as::<_, Conversation>(
            "SELECT id, user_id, title, subject, created_at, updated_at FROM conversations
             WHERE user_id = $1 AND (updated_at < $2 OR (updated_at = $2 AND id < $3))
             ORDER BY updated_at DESC, id DESC LIMIT $4",
        )
        .bind(user)
        .bind(updated_at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?)
    }

    /// Renames the user's conversation; `false` when it is not theirs or gone.
    pub async fn rename_conversation(&self, user: UserId, id: ConversationId, title: &str) -> Result<bool> {
        Ok(
            on_pool!(self, pool => sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2 AND user_id = $3")
            .bind(title)
            .bind(id)
            .bind(user)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1))?,
        )
    }

    /// Replaces a conversation's provisional title with a made one, unless
    /// it has been renamed since (then the user's title wins).
    pub async fn set_generated_title(
        &self,
        id: ConversationId,
        provisional: &str,
        title: &str,
    ) -> Result<bool> {
        Ok(
            on_pool!(self, pool => sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2 AND title = $3")
            .bind(title)
            .bind(id)
            .bind(provisional)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1))?,
        )
    }

    /// [`Self::set_generated_title`] for several conversations, in ONE
    /// transaction (SQLite: on the writer, the titles of a flush interval
    /// sharing their pages); for each, whether it was stored.
    #[tracing::instrument(skip_all, fields(titles = titles.len()))]
    pub async fn set_generated_titles(&self, titles: &[(ConversationId, &str, &str)]) -> Result<Vec<bool>> {
        on_pool!(self, pool => {
            let mut tx = begin_write!(pool).await?;
            let mut stored = Vec::with_capacity(titles.len());
            for (id, provisional, title) in titles {
                let done = sqlx::query("UPDATE conversations SET title = $1 WHERE id = $2 AND title = $3")
                    .bind(title)
                    .bind(id)
                    .bind(provisional)
                    .execute(&mut *tx)
                    .await?;
                stored.push(done.rows_affected() == 1);
            }
            tx.commit().await?;
            Ok(stored)
        })
    }

    /// Deletes the user's conversation and its messages (ON DELETE CASCADE).
    pub async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<bool> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1))?,
        )
    }
}

impl Storage {
    /// Deletes every conversation of the user (with their messages); returns how many.
    pub async fn delete_all_conversations(&self, user: UserId) -> Result<u64> {
        Ok(
            on_pool!(self, pool => sqlx::query("DELETE FROM conversations WHERE user_id = $1")
            .bind(user)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?,
        )
    }
}
