//! Writes grouped on SQLite, whose WAL takes whole pages: what several
//! transactions would each have written in full shares one.
//!
//! Questions. On SQLite the questions waiting for the writer go
//! into ONE transaction (group commit, [`Storage::begin_questions`](crate::storage::Storage::begin_questions)). A
//! question asked while none came for a moment is written at once, alone;
//! while they keep coming (one within [`GATHER`] of the last write), the
//! writer lets them gather for up to [`GATHER`] first, as PostgreSQL's
//! `commit_delay` does when other transactions are active. On PostgreSQL
//! each question has its own transaction, where it is asked.
//!
//! Titles. On SQLite the titles the model made since the last flush are
//! stored by the flusher, in one transaction; on PostgreSQL each at once.

use std::{
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use tokio::sync::{Notify, oneshot};

use super::Solver;
use crate::{
    spending::DailyLimits,
    storage::{Begun, ConversationId, NewQuestion, Refused, Reservation, StorageError, Subject, UserId},
};

/// The longest a question waits for others to share its transaction.
///
/// Each question changes about a dozen pages of SQLite's file (the ends of
/// the conversations', messages' and leases' tables and of their indexes,
/// the day's rows, the file's header), and the WAL takes each page whole:
/// alone, a question wrote ≈ 11 KB there. At 100 questions a second, every
/// one written alone (the writer is usually free), so it waits on purpose:
/// 25 ms makes two or three per transaction, and adds at most that much
/// before the model is called.
pub(super) const GATHER: Duration = Duration::from_millis(25);

/// What a question writes, owned, so that it can wait for a batch (and be
/// written again when the database was too busy the first time).
#[derive(Clone)]
pub(super) struct Question {
    pub user: UserId,
    pub conversation: Option<ConversationId>,
    pub subject: Subject,
    pub title: String,
    pub text: String,
    pub images: Vec<String>,
    pub transcribed: bool,
    pub model_id: String,
    pub reservation: Reservation,
    pub limits: DailyLimits,
    /// The answer's writer (this process) and its lease.
    pub owner: String,
    pub lease: Duration,
}

impl Question {
    fn as_new(&self) -> NewQuestion<'_> {
        NewQuestion {
            user: self.user,
            conversation: self.conversation,
            subject: self.subject,
            title: &self.title,
            question: &self.text,
            images: &self.images,
            transcribed: self.transcribed && !self.images.is_empty(),
            model_id: &self.model_id,
            reservation: self.reservation.clone(),
            limits: &self.limits,
            lease: (&self.owner, self.lease),
        }
    }
}

pub(super) type Stored = Result<Result<Begun, Refused>, StorageError>;

/// Questions waiting for the writer (SQLite).
#[derive(Default)]
pub(super) struct QuestionQueue {
    waiting: Mutex<Vec<(Question, oneshot::Sender<Stored>)>>,
    wake: Arc<Notify>,
}

impl Solver {
    /// Writes `question` (see the module's documentation).
    pub(super) async fn store_question(&self, question: Question) -> Stored {
        if !self.storage.groups_writes() {
            let storage = self.storage.clone();
            return self
                .storage
                .on_writes_thread(async move { storage.begin_question(&question.as_new()).await })
                .await;
        }
        let (stored, done) = oneshot::channel();
        self.questions.waiting.lock().unwrap().push((question, stored));
        self.questions.wake.notify_one();
        // No answer: the writer task is gone with the solver (shutting down).
        done.await
            .unwrap_or(Err(StorageError::Database(sqlx::Error::PoolClosed)))
    }

    /// Writes every question waiting, in one transaction.
    async fn store_waiting_questions(&self) {
        let batch = std::mem::take(&mut *self.questions.waiting.lock().unwrap());
        if batch.is_empty() {
            return;
        }
        metrics::histogram!("weasel_question_batch_size").record(batch.len() as f64);
        let news: Vec<NewQuestion<'_>> = batch.iter().map(|(question, _)| question.as_new()).collect();
        match self.storage.begin_questions(&news).await {
            Ok(results) => {
                for ((_, stored), result) in batch.into_iter().zip(results) {
                    let _ = stored.send(result);
                }
            }
            // The writer stayed busy: each question is refused as busy, as
            // it would have been alone (and tried once more by its asker).
            Err(err) if err.is_overloaded() => {
                for (_, stored) in batch {
                    let _ = stored.send(Err(StorageError::Database(sqlx::Error::PoolTimedOut)));
                }
            }
            // The transaction failed as a whole: each question alone, so
            // each learns its own outcome.
            Err(err) => {
                tracing::warn!(error = %err, questions = news.len(), "a batch of questions failed; writing each alone");
                drop(news);
                for (question, stored) in batch {
                    let _ = stored.send(self.storage.begin_question(&question.as_new()).await);
                }
            }
        }
    }
}

/// A model-made title waiting for the next flush (SQLite), and who waits
/// for it to be stored.
pub(super) struct QueuedTitle {
    conversation: ConversationId,
    provisional: String,
    title: String,
    stored: oneshot::Sender<Result<bool, Arc<StorageError>>>,
}

impl Solver {
    /// Stores the titles made since the last flush, in one transaction.
    pub(super) async fn store_waiting_titles(&self) {
        let titles = std::mem::take(&mut *self.titles.lock().unwrap());
        if titles.is_empty() {
            return;
        }
        let rows: Vec<(ConversationId, &str, &str)> = titles
            .iter()
            .map(|t| (t.conversation, t.provisional.as_str(), t.title.as_str()))
            .collect();
        let stored = self.storage.set_generated_titles(&rows).await;
        drop(rows);
        match stored {
            Ok(stored) => {
                for (title, stored) in titles.into_iter().zip(stored) {
                    let _ = title.stored.send(Ok(stored));
                }
            }
            Err(err) => {
                let err = Arc::new(err);
                for title in titles {
                    let _ = title.stored.send(Err(err.clone()));
                }
            }
        }
    }

    /// Stores one model-made title: on SQLite with the next flush's
    /// titles ([`Storage::groups_writes`](crate::storage::Storage::groups_writes)), on PostgreSQL at once.
    pub(super) async fn store_title_once(
        &self,
        conversation: ConversationId,
        provisional: &str,
        title: &str,
    ) -> Result<bool, Arc<StorageError>> {
        if !self.storage.groups_writes() {
            return self
                .storage
                .set_generated_title(conversation, provisional, title)
                .await
                .map_err(Arc::new);
        }
        let (stored, done) = oneshot::channel();
        self.titles.lock().unwrap().push(QueuedTitle {
            conversation,
            provisional: provisional.to_string(),
            title: title.to_string(),
            stored,
        });
        // No answer: the flusher is gone with the solver (shutting down).
        done.await
            .unwrap_or_else(|_| Err(Arc::new(StorageError::Database(sqlx::Error::PoolClosed))))
    }
}

/// Writes waiting questions for as long as the solver exists (it notices
/// the solver is gone within a second).
pub(super) async fn store_questions_forever(solver: Weak<Solver>) {
    let Some(wake) = solver.upgrade().map(|s| s.questions.wake.clone()) else {
        return;
    };
    let mut last_write: Option<Instant> = None;
    loop {
        let woken = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
        if woken.is_err() {
            if solver.strong_count() == 0 {
                return;
            }
            continue;
        }
        // Questions keep coming: let the next ones join this transaction.
        if let Some(since) = last_write.map(|at| at.elapsed())
            && since < GATHER
        {
            tokio::time::sleep(GATHER - since).await;
        }
        let Some(solver) = solver.upgrade() else { return };
        last_write = Some(Instant::now());
        solver.store_waiting_questions().await;
    }
}
