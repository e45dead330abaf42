//! Solving a problem: the question is stored, an empty answer is started, and
//! a background task streams the model's text into it. The task belongs to the
//! server, not to the browser's connection: closing the tab loses nothing.
//!
//! While it runs, the answer's text lives in memory ([`LiveAnswer`]) and goes
//! to every subscriber as it arrives. The generating task never waits for
//! the database: one flusher task writes, every [`FLUSH_EVERY`], what every
//! live answer received since the last flush as ONE row of the answer
//! journal (`storage::journal`: group commit, append-only, in time order);
//! the answer's own row is written once, complete, at the end (on SQLite by
//! the next flush, in the same transaction as every other answer that
//! ended in that interval). A crash loses at most the last interval of text.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub mod events;
mod grouped;
mod reads;
mod replicas;
pub mod service;

use crate::{
    config::{ReplicaSettings, SpendingSettings},
    model::{ModelError, ModelEvent, ModelProvider, ModelRequest, Purpose, Turn, Usage},
    spending,
    storage::{
        AnswerOutcome, Chunk, Conversation, ConversationId, End, Message, MessageId, MessageStatus, Refused,
        Reservation, Role, Storage, StorageError, Subject, UserId,
    },
};

/// What one answer is generated from.
struct Generation {
    conversation: ConversationId,
    /// The student whose conversation it is.
    owner: UserId,
    subject: Subject,
    answer: MessageId,
    /// The conversation's messages, when the caller holds all of them (a
    /// new conversation's question); read from the database otherwise.
    history: Option<Vec<Message>>,
}

/// How often what streaming answers received is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);

/// The longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 20_000;

/// The pauses before storing a model-made title again, when the database
/// refused it (about 7.5 s in all).
const TITLE_RETRIES: [Duration; 4] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What one photo is counted as when an answer's cost is reserved: about
/// the tokens of a 1568-px photo, in the characters they stand for.
const IMAGE_CHARS: usize = 2 * 1600;

/// What the model is told when it writes photos out as text.
pub const TRANSCRIBE_PROMPT: &str = "Transcribe the exam problem in the student's photos exactly, \
    so the student can check it before it is solved. Keep the original language (Korean stays Korean), \
    every number and the choices ①–⑤ as written, write math in LaTeX ($...$), and describe what \
    text cannot carry in brackets, such as [밑줄: …], [네모 상자: …], [그림: …] or [표]. \
    Do not solve or explain anything. Reply with only the transcript.";

/// What follows a checked transcript in the conversation the model reads.
const TRANSCRIPT_NOTE: &str = "(The student photographed this problem. The text above is their own \
    checked transcript of the photos; where the photos and the text differ, trust the text.)";

/// How long deleting a conversation waits for its streaming answers to
/// end once stopped (an answer written here ends within milliseconds;
/// one whose writer died is deleted anyway, unrecorded, after this).
const END_WAIT: Duration = Duration::from_secs(3);

/// How long naming a conversation may take before the first line stays its title.
const TITLE_TIMEOUT: Duration = Duration::from_secs(20);

/// What the title model is told. The title names the topic, in the
/// problem's own language, so the list reads well in Korean and English alike.
const TITLE_PROMPT: &str = "Write a conversation title for the student's exam problem below: \
    at most six words, in the language the problem is written in, naming its topic \
    (never just \"문제\" or \"Question\"). Reply with only the title, without quotes.";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    /// `text` goes at byte `offset` of the answer.
    Delta { offset: usize, text: String },
    /// Boxed: the rare, large event would size every slot of the channel.
    Done(Box<Ended>),
}

/// How an answer ended, as its followers are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub status: MessageStatus,
    pub error: Option<String>,
    /// Tokens and cost, when this process wrote the answer.
    pub usage: Option<crate::storage::AnswerUsage>,
}

/// An answer being generated right now: by this process, or by another
/// replica and mirrored here for the followers connected to this one.
pub struct LiveAnswer {
    state: Mutex<LiveState>,
    /// How many bytes of the text the database has (in its journal).
    persisted: AtomicUsize,
    /// Its end is being stored: flushes leave it alone (its row gets all
    /// of its text, and its chunks are dropped).
    finishing: AtomicBool,
    events: broadcast::Sender<LiveEvent>,
    cancel: CancellationToken,
    /// Whose answer it is, when this process generates it (a mirror of
    /// another replica's answer does not know).
    owner: Option<UserId>,
}

#[derive(Default)]
struct LiveState {
    text: String,
    /// Set once followers were told how it ended.
    ended: Option<Ended>,
}

/// The text so far, how it ended if it did, and what follows, taken
/// atomically so no delta is missed or repeated.
pub struct Subscription {
    pub text: String,
    pub ended: Option<Ended>,
    pub events: broadcast::Receiver<LiveEvent>,
}

/// Deltas an answer keeps for its followers. Each slot is allocated up
/// front, per answer, and keeps its last delta until overwritten: 64 events
/// are two and a half seconds of text at 25 tokens/s. A follower further
/// behind is told it lagged and continues from the text so far (one copy),
/// losing nothing (`weasel_readers_lagged_total` counts those catch-ups).
/// 16 slots saved 2–3 KiB per open stream (`answer_bench`, 2026-12-06), but
/// a burst of deltas (a model's events arriving together, a busy pod) then
/// overran every follower at once, each one copying the text to catch up.
const LIVE_EVENTS: usize = 64;

impl LiveAnswer {
    fn new(text: String, cancel: CancellationToken, owner: Option<UserId>) -> Arc<Self> {
        let (events, _) = broadcast::channel(LIVE_EVENTS);
        Arc::new(LiveAnswer {
            state: Mutex::new(LiveState { text, ended: None }),
            persisted: AtomicUsize::new(0),
            finishing: AtomicBool::new(false),
            events,
            cancel,
            owner,
        })
    }

    fn subscribe(&self) -> Subscription {
        let state = self.state.lock().unwrap();
        Subscription {
            text: state.text.clone(),
            ended: state.ended.clone(),
            events: self.events.subscribe(),
        }
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().text.clone()
    }

    /// Appends `delta` and tells the followers, under one lock.
    fn push(&self, delta: String) {
        let mut state = self.state.lock().unwrap();
        let offset = state.text.len();
        state.text.push_str(&delta);
        let _ = self.events.send(LiveEvent::Delta { offset, text: delta });
    }

    /// Adds what `text`, found at byte `start`, has beyond the text so far.
    /// False when it leaves a gap (the caller reads again later).
    fn extend_from(&self, start: usize, text: &str) -> bool {
        // One lock for the check and the append: no reader of the mirror
        // can ever see a byte twice.
        let mut state = self.state.lock().unwrap();
        let len = state.text.len();
        if start > len {
            return false;
        }
        let known = len - start;
        if known >= text.len() {
            return true;
        }
        if !text.is_char_boundary(known) {
            return false;
        }
        let delta = text[known..].to_string();
        state.text.push_str(&delta);
        let _ = self.events.send(LiveEvent::Delta {
            offset: len,
            text: delta,
        });
        true
    }

    /// Tells the followers how it ended (once).
    fn end(&self, ended: Ended) {
        let mut state = self.state.lock().unwrap();
        if state.ended.is_none() {
            state.ended = Some(ended.clone());
            let _ = self.events.send(LiveEvent::Done(Box::new(ended)));
        }
    }
}

/// What the flusher wrote since the process started (benchmarks read it).
#[derive(Debug, Default)]
pub struct FlushStats {
    /// Transactions (one per flush that had something to write).
    pub transactions: AtomicU64,
    pub chunks: AtomicU64,
    pub bytes: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("the question is empty")]
    Empty,
    #[error("more photos than a question takes")]
    TooManyImages,
    #[error("a photo of the question is not an unsent upload of its author")]
    ImageGone,
    #[error("the model refused: {0}")]
    Model(ModelError),
    #[error("the question is too long")]
    TooLong,
    #[error("conversation not found")]
    NotFound,
    #[error("this answer cannot be written again now")]
    NotRetryable,
    #[error("this server is shutting down")]
    Restarting,
    #[error("a daily limit is reached: {0:?}")]
    Limit(LimitReached),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A new answer refused by a daily limit, and when it lifts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitReached {
    pub refused: Refused,
    /// The student's daily number of answers (for the message).
    pub answers_per_day: i64,
    /// Seconds until the day ends in Korea.
    pub resets_in_secs: i64,
}

/// An answer's end waiting for a flush, and who waits for it to be recorded.
struct QueuedEnd {
    id: MessageId,
    status: MessageStatus,
    outcome: AnswerOutcome,
    recorded: tokio::sync::oneshot::Sender<Result<(), Arc<StorageError>>>,
}

/// A new answer that was let in: what it reserved, for whom, on which day.
struct Admitted {
    user: UserId,
    reservation: Reservation,
}

pub struct Asked {
    pub conversation: ConversationId,
    pub question: Message,
    pub answer: Message,
}

pub struct Solver {
    storage: Storage,
    images: Arc<crate::images::Images>,
    /// A pool of its own for the heartbeat.
    heartbeat: Storage,
    model: Arc<dyn ModelProvider>,
    idle_timeout: Duration,
    replica: ReplicaSettings,
    spending: SpendingSettings,
    /// The answer model's output budget (the most an answer can cost).
    max_tokens: i64,
    started_at: i64,
    /// Answers this process generates.
    live: Mutex<HashMap<MessageId, Arc<LiveAnswer>>>,
    /// Answers other replicas generate that followers here watch.
    mirrors: Mutex<HashMap<MessageId, Arc<replicas::Mirror>>>,
    flushed: FlushStats,
    /// Held for the whole of a flush, so an answer's end is stored only
    /// after any flush that took its text has committed.
    flushing: tokio::sync::Mutex<()>,
    /// Answers' ends waiting for the next flush, which records them all in
    /// its transaction (group commit).
    ends: Mutex<Vec<QueuedEnd>>,
    /// What conversation titles cost since the last flush, per day.
    title_spend: Mutex<HashMap<String, i64>>,
    /// Questions waiting for SQLite's writer, written together.
    questions: grouped::QuestionQueue,
    /// Titles waiting for the next flush (SQLite), stored together.
    titles: Mutex<Vec<grouped::QueuedTitle>>,
    /// The last heartbeat reached the database and was written.
    writable: AtomicBool,
    /// Shutting down: no new questions; answers in progress finish.
    draining: AtomicBool,
    /// The shutdown grace period is over: answers still running stop here.
    deadline: CancellationToken,
    /// Followers' streams end (their browsers reconnect to another replica).
    closing: CancellationToken,
}

/// Flushes every [`FLUSH_EVERY`] for as long as the solver exists (a flush
/// that took longer is followed by the next at once), and every
/// [`INDEX_EVERY`] flushes adds what was stored since to the search index.
async fn flush_forever(solver: Weak<Solver>) {
    let mut wait = FLUSH_EVERY;
    for flushes in 1u64.. {
        tokio::time::sleep(wait).await;
        let Some(solver) = solver.upgrade() else { return };
        let started = Instant::now();
        solver.flush().await;
        if flushes % INDEX_EVERY == 0 {
            solver.index_search().await;
        }
        wait = FLUSH_EVERY.saturating_sub(started.elapsed());
    }
}

/// How many flushes apart the search index is brought up to date (2 s):
/// the batch that shares the index's pages among the answers that ended
/// meanwhile. A search brings it up to date first anyway.
const INDEX_EVERY: u64 = 8;

/// What the model is told for each subject: the answer first, then the steps,
/// then why each other choice is wrong, in the student's language.
pub fn system_prompt(subject: Subject) -> String {
    let field = match subject {
        Subject::Korean => "수능 국어(독서·문학·언어와 매체·화법과 작문)",
        Subject::English => "수능 영어(English reading and listening items)",
        Subject::Math => "수능 수학(수학 I·II, 확률과 통계, 미적분, 기하)",
        Subject::Other => "시험 문제",
    };
    format!(
        "You are Weasel, a patient exam tutor for Korean high-school students, expert in {field}.\n\
         Answer in the language the student writes in (Korean unless they write another language).\n\
         1. Start with one line: \"정답: <answer>\" (the choice number like ③ and its text, or the value).\n\
         2. Then explain step by step how to reach it, quoting the evidence from the passage.\n\
         3. Then say briefly why each other choice is wrong.\n\
         Use Markdown. Write math in LaTeX: $...$ inline, $$...$$ for display.\n\
         If the problem is unreadable or incomplete, say what is missing instead of guessing."
    )
}

/// The question without surrounding blanks, if it may be asked.
fn checked_question(question: &str) -> Result<&str, SolveError> {
    checked_question_with(question, 0)
}

/// The same, for a question with `images` photos: a photo alone is a question.
fn checked_question_with(question: &str, images: usize) -> Result<&str, SolveError> {
    let question = question.trim();
    if images > crate::images::MAX_PER_QUESTION {
        return Err(SolveError::TooManyImages);
    }
    if question.is_empty() && images == 0 {
        return Err(SolveError::Empty);
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(SolveError::TooLong);
    }
    Ok(question)
}

/// The model's reply made into a title: its first line without Markdown,
/// a "제목:"/"Title:" label or quotes, at most 60 characters; `None` when
/// nothing usable is left.
pub fn clean_title(reply: &str) -> Option<String> {
    let line = reply.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line = line.trim_start_matches('#').trim();
    let line = ["제목:", "제목 :", "Title:", "title:"]
        .iter()
        .find_map(|label| line.strip_prefix(label))
        .unwrap_or(line);
    let quotes = |c: char| matches!(c, '"' | '\'' | '“' | '”' | '「' | '」' | '『' | '』' | '*' | '`');
    let stops = ['.', '。'];
    let line = line
        .trim()
        .trim_end_matches(stops)
        .trim_matches(quotes)
        .trim()
        .trim_end_matches(stops);
    let words = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.is_empty() {
        return None;
    }
    Some(shortened(&words, 60))
}

/// At most `chars` characters of `text`, with "…" when some were cut.
fn shortened(text: &str, chars: usize) -> String {
    let mut short: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        short.push('…');
    }
    short
}

/// A title from the first question: its first line, at most 40 characters.
pub fn title_from(question: &str) -> String {
    let line = question
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("새 문제");
    shortened(line, 40)
}

impl Solver {
    /// The solver and its background tasks (flusher, heartbeat and sweep,
    /// replica follower); they end when the solver is dropped.
    pub fn new(
        storage: Storage,
        model: Arc<dyn ModelProvider>,
        idle_timeout: Duration,
        replica: ReplicaSettings,
        spending: SpendingSettings,
        max_tokens: i64,
        images: Arc<crate::images::Images>,
    ) -> Arc<Self> {
        let solver = Arc::new(Solver {
            images,
            heartbeat: storage.own_pool(1),
            storage,
            model,
            idle_timeout,
            replica,
            spending,
            max_tokens,
            started_at: crate::storage::now_millis(),
            live: Mutex::default(),
            mirrors: Mutex::default(),
            flushed: FlushStats::default(),
            flushing: tokio::sync::Mutex::new(()),
            ends: Mutex::default(),
            title_spend: Mutex::default(),
            questions: Default::default(),
            titles: Mutex::default(),
            writable: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            deadline: CancellationToken::new(),
            closing: CancellationToken::new(),
        });
        let flusher = flush_forever(Arc::downgrade(&solver));
        let storage = solver.storage.clone();
        tokio::spawn(async move { storage.on_writes_thread(flusher).await });
        if solver.storage.groups_writes() {
            let questions = grouped::store_questions_forever(Arc::downgrade(&solver));
            let storage = solver.storage.clone();
            tokio::spawn(async move { storage.on_writes_thread(questions).await });
        }
        tokio::spawn(replicas::keep_forever(Arc::downgrade(&solver)));
        tokio::spawn(replicas::mirror_forever(
            Arc::downgrade(&solver),
            solver.storage.clone(),
        ));
        solver
    }

    /// The daily limits and budget this process enforces.
    pub fn daily_limits(&self) -> &crate::spending::DailyLimits {
        &self.spending.limits
    }

    /// This process's name in answer leases.
    pub fn instance_id(&self) -> &str {
        &self.replica.instance_id
    }

    /// Whether this process takes new questions: not shutting down, and
    /// the database took its last heartbeat write.
    pub fn ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed) && self.writable.load(Ordering::Relaxed)
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn refuse_if_draining(&self) -> Result<(), SolveError> {
        if self.draining() {
            Err(SolveError::Restarting)
        } else {
            Ok(())
        }
    }

    /// What the flusher has written so far.
    pub fn flush_stats(&self) -> &FlushStats {
        &self.flushed
    }

    /// Writes what every live answer received since the last flush and
    /// how each answer that ended since ended, in one transaction. Texts
    /// are copied under their locks, never across an await.
    async fn flush(&self) {
        let _flushing = self.flushing.lock().await;
        let titles = std::mem::take(&mut *self.title_spend.lock().unwrap());
        for (day, micros) in titles {
            if let Err(err) = self.storage.record_spend(&day, micros).await {
                tracing::warn!(error = %err, "cannot count titles' cost; retrying");
                *self.title_spend.lock().unwrap().entry(day).or_default() += micros;
            }
        }
        self.store_waiting_titles().await;
        let ends = std::mem::take(&mut *self.ends.lock().unwrap());
        let live: Vec<(MessageId, Arc<LiveAnswer>)> = self
            .live
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, live)| !live.finishing.load(Ordering::Relaxed))
            .map(|(id, live)| (*id, live.clone()))
            .collect();
        let pending: Vec<(MessageId, usize, String, &LiveAnswer)> = live
            .iter()
            .filter_map(|(id, live)| {
                let state = live.state.lock().unwrap();
                let from = live.persisted.load(Ordering::Relaxed);
                (state.text.len() > from).then(|| (*id, from, state.text[from..].to_string(), live.as_ref()))
            })
            .collect();
        if pending.is_empty() && ends.is_empty() {
            return;
        }
        let chunks: Vec<Chunk<'_>> = pending
            .iter()
            .map(|(id, from, text, _)| Chunk {
                message: *id,
                start_at: *from,
                text,
            })
            .collect();
        let to_record: Vec<End<'_>> = ends
            .iter()
            .map(|end| End {
                id: end.id,
                status: end.status,
                outcome: &end.outcome,
            })
            .collect();
        match self.storage.flush(&chunks, &to_record).await {
            Ok(flushed) => {
                for (_, from, text, live) in &pending {
                    live.persisted.store(from + text.len(), Ordering::Relaxed);
                }
                let bytes = flushed.journal.map_or(0, |(_, bytes)| bytes);
                self.flushed.transactions.fetch_add(1, Ordering::Relaxed);
                self.flushed
                    .chunks
                    .fetch_add(pending.len() as u64, Ordering::Relaxed);
                self.flushed.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                crate::metrics::record_flush(pending.len(), bytes);
                for (end, result) in ends.into_iter().zip(flushed.ends) {
                    let _ = end.recorded.send(result.map_err(Arc::new));
                }
            }
            // Nothing is lost from memory: the next flush writes the text
            // again, and each end's writer queues it again.
            Err(err) => {
                tracing::warn!(error = %err, answers = pending.len(), ends = ends.len(), "cannot save streaming answers; retrying");
                let err = Arc::new(err);
                for end in ends {
                    let _ = end.recorded.send(Err(err.clone()));
                }
            }
        }
    }

    /// Adds the messages stored since the last time to the search index.
    async fn index_search(&self) {
        if let Err(err) = self.storage.index_backlog().await {
            tracing::warn!(error = %err, "cannot update the search index; retrying");
        }
    }

    /// Records how answer `id` ended: on SQLite with the next flush (see
    /// [`Self::flush`]), on PostgreSQL at once, alone
    /// ([`Storage::groups_writes`]).
    async fn record_end(
        &self,
        id: MessageId,
        status: MessageStatus,
        outcome: &AnswerOutcome,
    ) -> Result<(), Arc<StorageError>> {
        if !self.storage.groups_writes() {
            return self
                .storage
                .finish_answer(id, status, outcome)
                .await
                .map_err(Arc::new);
        }
        let (recorded, done) = tokio::sync::oneshot::channel();
        self.ends.lock().unwrap().push(QueuedEnd {
            id,
            status,
            outcome: outcome.clone(),
            recorded,
        });
        match done.await {
            Ok(result) => result,
            // The flusher is gone (never while the solver lives): alone.
            Err(_) => self
                .storage
                .finish_answer(id, status, outcome)
                .await
                .map_err(Arc::new),
        }
    }

    pub fn model(&self) -> &dyn ModelProvider {
        self.model.as_ref()
    }

    /// Stores a question without photos and starts answering it.
    pub async fn ask(
        self: &Arc<Self>,
        user: UserId,
        conversation: Option<ConversationId>,
        subject: Subject,
        question: &str,
    ) -> Result<Asked, SolveError> {
        self.ask_with(user, conversation, subject, question, &[], false)
            .await
    }

    /// Stores the question with its photos (the student's unsent uploads)
    /// and starts answering it; returns at once. `transcribed`: the text is
    /// the student's checked transcript of the photos.
    pub async fn ask_with(
        self: &Arc<Self>,
        user: UserId,
        conversation: Option<ConversationId>,
        subject: Subject,
        question: &str,
        images: &[String],
        transcribed: bool,
    ) -> Result<Asked, SolveError> {
        self.refuse_if_draining()?;
        let question = checked_question_with(question, images.len())?;
        let existing = match conversation {
            Some(id) => Some(
                self.storage
                    .conversation(user, id)
                    .await?
                    .ok_or(SolveError::NotFound)?,
            ),
            None => None,
        };
        let context = match &existing {
            Some(conversation) => self.storage.conversation_chars(conversation.id).await?,
            None => 0,
        };
        let (now, reservation) =
            self.reservation(context + question.chars().count() + images.len() * IMAGE_CHARS);
        let provisional = if question.is_empty() {
            "사진 문제".to_string()
        } else {
            title_from(question)
        };
        let question_to_store = grouped::Question {
            user,
            conversation: existing.as_ref().map(|c| c.id),
            subject,
            title: provisional.clone(),
            text: question.to_string(),
            images: images.to_vec(),
            transcribed,
            model_id: self.model.model_id().to_string(),
            reservation,
            limits: self.spending.limits,
            owner: self.replica.instance_id.clone(),
            lease: self.replica.lease,
        };
        // Stored and started in a task of its own: a request dropped while
        // the question is written (the browser gone) cannot leave an answer
        // marked streaming that nothing generates.
        let solver = Arc::clone(self);
        let (titled, question_text) = (existing.is_none() && !question.is_empty(), question.to_string());
        // A new conversation's history is its question: the generation
        // need not read it back (one database round trip less before the
        // model is called). Photos are read with the history, so not then.
        let known_history = existing.is_none() && images.is_empty();
        let started = tokio::spawn(async move {
            let mut begun = solver.store_question(question_to_store.clone()).await;
            // A question the database was too busy to take waits once more
            // before it is refused: the student has already waited, and
            // what it waits for is the one write an answer needs before the
            // model is called (its session and user usually come from
            // memory, `auth::cache`). Nothing was written by the first try.
            if matches!(&begun, Err(err) if err.is_overloaded()) {
                metrics::counter!("weasel_questions_waited_again_total").increment(1);
                begun = solver.store_question(question_to_store).await;
            }
            if let Ok(Ok(begun)) = &begun {
                if titled {
                    solver.spawn_title(begun.conversation.id, provisional, question_text);
                }
                let conversation = &begun.conversation;
                solver.spawn_generation(Generation {
                    conversation: conversation.id,
                    owner: conversation.user_id,
                    subject: conversation.subject,
                    answer: begun.answer.id,
                    history: known_history.then(|| vec![begun.question.clone()]),
                });
            }
            begun
        });
        let begun = match started.await {
            Ok(begun) => begun,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        };
        let begun = match begun {
            Ok(Ok(begun)) => begun,
            Ok(Err(refused)) => return Err(self.refused(refused, now)),
            Err(StorageError::NotFound("image")) => return Err(SolveError::ImageGone),
            Err(err) => return Err(err.into()),
        };
        let conversation = begun.conversation;
        Ok(Asked {
            conversation: conversation.id,
            question: begun.question,
            answer: begun.answer,
        })
    }

    /// What a new answer reserves: the most it can cost for a prompt of
    /// `prompt_chars` characters (besides the instructions), on today's day.
    fn reservation(&self, prompt_chars: usize) -> (time::OffsetDateTime, Reservation) {
        let now = time::OffsetDateTime::now_utc();
        let prompt_tokens =
            spending::estimate_tokens(prompt_chars + system_prompt(Subject::Other).chars().count());
        let micros =
            self.spending
                .prices
                .ceiling_micros(self.model.model_id(), prompt_tokens, self.max_tokens);
        let day = spending::day_of(now);
        (now, Reservation { day, micros })
    }

    /// A limit's refusal, counted and, for the budget, logged.
    fn refused(&self, refused: Refused, now: time::OffsetDateTime) -> SolveError {
        let label = match refused {
            Refused::StudentAnswers => "student_answers",
            Refused::StudentTokens => "student_tokens",
            Refused::Budget => "budget",
        };
        metrics::counter!("weasel_answers_refused_total", "limit" => label).increment(1);
        if refused == Refused::Budget {
            tracing::warn!("the daily budget is reached: new questions are refused until midnight in Korea");
        }
        SolveError::Limit(LimitReached {
            refused,
            answers_per_day: self.spending.limits.answers_per_student,
            resets_in_secs: (spending::next_day(now) - now).whole_seconds(),
        })
    }

    /// Lets a new answer of `user` in against the daily limits and the
    /// budget (retries and edits; a new question does this in
    /// [`Storage::begin_question`]).
    async fn admit(&self, user: UserId, prompt_chars: usize) -> Result<Admitted, SolveError> {
        let (now, reservation) = self.reservation(prompt_chars);
        match self
            .storage
            .admit_answer(user, &reservation.day, &self.spending.limits, reservation.micros)
            .await?
        {
            Ok(()) => Ok(Admitted { user, reservation }),
            Err(refused) => Err(self.refused(refused, now)),
        }
    }

    /// Takes an admission back when its answer could not be started.
    async fn release(&self, admitted: &Admitted) {
        let Reservation { day, micros } = &admitted.reservation;
        if let Err(err) = self.storage.release_answer(admitted.user, day, *micros).await {
            tracing::warn!(error = %err, "cannot take back an answer's reservation; it counts until the day ends");
        }
    }

    /// Writes the last answer of a conversation again (regenerate, or retry
    /// after a failure), once it has finished. The old answer is replaced
    /// rather than kept as a version: the conversation stays one line of
    /// turns, which is also exactly the context the model is sent.
    pub async fn retry(self: &Arc<Self>, user: UserId, answer: MessageId) -> Result<Asked, SolveError> {
        self.refuse_if_draining()?;
        let message = self
            .storage
            .stored_message_of(user, answer)
            .await?
            .ok_or(SolveError::NotFound)?;
        let retryable = message.status != MessageStatus::Streaming;
        let last = self.storage.last_message_id(message.conversation_id).await?;
        if message.role != Role::Assistant || !retryable || last != Some(answer) {
            return Err(SolveError::NotRetryable);
        }
        let conversation = self
            .storage
            .conversation(user, message.conversation_id)
            .await?
            .ok_or(SolveError::NotFound)?;
        let context = self.storage.conversation_chars(conversation.id).await?;
        let admitted = self.admit(user, context).await?;
        let asked = async {
            self.storage.delete_message(answer).await?;
            let question = self
                .storage
                .messages(conversation.id)
                .await?
                .into_iter()
                .rev()
                .find(|m| m.role == Role::User)
                .ok_or(SolveError::NotFound)?;
            self.answer(&conversation, question, &admitted).await
        }
        .await;
        if asked.is_err() {
            self.release(&admitted).await;
        }
        asked
    }

    /// Gives one of the user's questions new text and answers it again.
    /// Everything after it in the conversation (its answer and later turns)
    /// is replaced; refused while an answer there is still being written.
    pub async fn edit(
        self: &Arc<Self>,
        user: UserId,
        question: MessageId,
        text: &str,
    ) -> Result<Asked, SolveError> {
        self.refuse_if_draining()?;
        let text = checked_question(text)?;
        let message = self
            .storage
            .stored_message_of(user, question)
            .await?
            .ok_or(SolveError::NotFound)?;
        if message.role != Role::User {
            return Err(SolveError::NotFound);
        }
        let conversation = self
            .storage
            .conversation(user, message.conversation_id)
            .await?
            .ok_or(SolveError::NotFound)?;
        let messages = self.storage.messages(conversation.id).await?;
        if messages.iter().any(|m| m.status == MessageStatus::Streaming) {
            return Err(SolveError::NotRetryable);
        }
        let context: usize = messages
            .iter()
            .take_while(|m| m.id != message.id)
            .map(|m| m.content.chars().count())
            .sum();
        let admitted = self.admit(user, context + text.chars().count()).await?;
        let asked = async {
            let question = self.storage.replace_question(&message, text).await?;
            self.answer(&conversation, question, &admitted).await
        }
        .await;
        if asked.is_err() {
            self.release(&admitted).await;
        }
        asked
    }

    /// Names a new conversation with the title model, in the background: the
    /// answer does not wait for it. The question's first line stays the title
    /// when the model fails, and a title the user typed meanwhile is kept.
    fn spawn_title(self: &Arc<Self>, conversation: ConversationId, provisional: String, question: String) {
        let solver = Arc::clone(self);
        tokio::spawn(async move {
            let made = match solver.make_title(&question).await {
                Ok(Some(title)) => solver.store_title(conversation, &provisional, &title).await,
                Ok(None) => false,
                Err(err) => {
                    tracing::info!(error = %err, conversation = conversation.0, "no title from the model; the first line stays");
                    false
                }
            };
            metrics::counter!("weasel_titles_total", "source" => if made { "model" } else { "first_line" })
                .increment(1);
        });
    }

    /// Stores a model-made title (unless the student renamed the
    /// conversation meanwhile). A database that refuses for a moment (busy,
    /// restarting) is asked again after each of [`TITLE_RETRIES`]: the title
    /// was paid for. True when stored.
    async fn store_title(&self, conversation: ConversationId, provisional: &str, title: &str) -> bool {
        let mut pauses = TITLE_RETRIES.iter();
        loop {
            match self.store_title_once(conversation, provisional, title).await {
                Ok(stored) => return stored,
                Err(err) => match pauses.next() {
                    Some(pause) => {
                        tracing::debug!(error = %err, conversation = conversation.0, "cannot store a title yet; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => {
                        tracing::warn!(error = %err, conversation = conversation.0, "cannot store a conversation title; the first line stays");
                        return false;
                    }
                },
            }
        }
    }

    async fn make_title(&self, question: &str) -> Result<Option<String>, ModelError> {
        // The beginning is enough to name it, and keeps the call cheap.
        let excerpt: String = question.chars().take(2_000).collect();
        let request = ModelRequest {
            purpose: Purpose::Title,
            system: TITLE_PROMPT.into(),
            turns: vec![Turn::text(Role::User, excerpt)],
        };
        let reply = async {
            let mut stream = self.model.stream(request).await?;
            let (mut reply, mut usage) = (String::new(), None);
            while let Some(event) = stream.next().await {
                match event? {
                    ModelEvent::Text(text) => reply.push_str(&text),
                    ModelEvent::Usage(used) => usage = Some(used),
                    ModelEvent::Stop(_) => {}
                }
            }
            Ok::<_, ModelError>((reply, usage))
        };
        let (reply, usage) = tokio::time::timeout(TITLE_TIMEOUT, reply)
            .await
            .map_err(|_| ModelError::Timeout)??;
        // Titles are the service's cost, not a student's answer: they count
        // against the day's budget only, added by the next flush (one write
        // to the day's row for all titles since the last one).
        if let Some(usage) = usage {
            let cost = self
                .spending
                .prices
                .cost_micros(self.model.model_for(Purpose::Title), &usage);
            let day = spending::day_of(time::OffsetDateTime::now_utc());
            *self.title_spend.lock().unwrap().entry(day).or_default() += cost;
        }
        Ok(clean_title(&reply))
    }

    /// Starts an empty answer to `question` and the task that writes it.
    async fn answer(
        self: &Arc<Self>,
        conversation: &Conversation,
        question: Message,
        admitted: &Admitted,
    ) -> Result<Asked, SolveError> {
        let answer = self
            .storage
            .start_answer(
                conversation.id,
                self.model.model_id(),
                Some(&admitted.reservation),
                Some((&self.replica.instance_id, self.replica.lease)),
            )
            .await?;
        self.spawn_generation(Generation {
            conversation: conversation.id,
            owner: conversation.user_id,
            subject: conversation.subject,
            answer: answer.id,
            history: None,
        });
        Ok(Asked {
            conversation: conversation.id,
            question,
            answer,
        })
    }

    pub fn images(&self) -> &Arc<crate::images::Images> {
        &self.images
    }

    /// Writes a student's unsent photos out as text, streamed. Refused
    /// past the student's or the service's daily limits; what it costs is
    /// counted for both when it ends (see [`Solver::settle_transcription`]).
    pub async fn transcribe(
        &self,
        user: UserId,
        ids: &[String],
        subject: Subject,
    ) -> Result<Transcription, SolveError> {
        self.refuse_if_draining()?;
        if ids.is_empty() {
            return Err(SolveError::Empty);
        }
        if ids.len() > crate::images::MAX_PER_QUESTION {
            return Err(SolveError::TooManyImages);
        }
        let rows = self.storage.pending_images(user, ids).await?;
        if rows.len() != ids.len() {
            return Err(SolveError::ImageGone);
        }
        let now = time::OffsetDateTime::now_utc();
        let day = spending::day_of(now);
        let limits = &self.spending.limits;
        let used = self.storage.student_use(user, &day, &day).await?;
        if limits.tokens_per_student > 0 && used.tokens >= limits.tokens_per_student {
            return Err(self.refused(Refused::StudentTokens, now));
        }
        if limits.budget_micros > 0 {
            let totals = self.storage.day_totals(&day).await?;
            if totals.spent_micros + totals.reserved_micros >= limits.budget_micros {
                return Err(self.refused(Refused::Budget, now));
            }
        }
        let images = self
            .images
            .for_model(&rows)
            .await
            .map_err(|e| SolveError::Model(ModelError::Unavailable(e.to_string())))?;
        let request = ModelRequest {
            purpose: Purpose::Transcribe,
            system: format!("{TRANSCRIBE_PROMPT}\nSubject: {}", subject_label(subject)),
            turns: vec![Turn {
                role: Role::User,
                text: "Transcribe these photos.".into(),
                images,
            }],
        };
        let stream = self.model.stream(request).await.map_err(SolveError::Model)?;
        Ok(Transcription {
            stream,
            user,
            day,
            model_id: self.model.model_for(Purpose::Transcribe).to_string(),
            idle_timeout: self.idle_timeout,
        })
    }

    /// Counts a finished transcription's cost for the student and the day.
    pub async fn settle_transcription(&self, user: UserId, day: &str, model_id: &str, usage: &Usage) {
        let micros = self.spending.prices.cost_micros(model_id, usage);
        let tokens =
            usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens;
        if let Err(err) = self.storage.record_student_spend(user, day, tokens, micros).await {
            tracing::warn!(error = %err, "cannot count a transcription's cost");
        }
        metrics::counter!("weasel_transcriptions_total").increment(1);
    }

    /// The text so far of a streaming answer, from memory: one this process
    /// generates (ahead of the database by up to one flush), or one it
    /// mirrors for followers here (read from the journal already); `None`
    /// when it holds neither.
    pub fn live_text(&self, id: MessageId) -> Option<String> {
        if let Some(live) = self.live.lock().unwrap().get(&id).cloned() {
            return Some(live.text());
        }
        let mirror = self.mirrors.lock().unwrap().get(&id).cloned()?;
        (!mirror.is_loading()).then(|| mirror.live.text())
    }

    /// Whether `id` is an answer of `user`'s that this process is
    /// generating: known from memory, with no query.
    pub fn generates_for(&self, user: UserId, id: MessageId) -> bool {
        self.live
            .lock()
            .unwrap()
            .get(&id)
            .is_some_and(|live| live.owner == Some(user))
    }

    /// Follows a streaming answer, wherever it is generated: from memory
    /// when here, else through a mirror fed by the database (PostgreSQL
    /// notifications, or polling). `None` when it is not streaming.
    pub async fn follow(&self, id: MessageId) -> Result<Option<Subscription>, StorageError> {
        if let Some(live) = self.live.lock().unwrap().get(&id) {
            return Ok(Some(live.subscribe()));
        }
        if let Some(mirror) = self.mirrors.lock().unwrap().get(&id) {
            return Ok(Some(mirror.live.subscribe()));
        }
        let Some(message) = self.storage.stored_answer(id).await? else {
            return Ok(None);
        };
        if message.status != MessageStatus::Streaming {
            return Ok(None);
        }
        if let Some(live) = self.live.lock().unwrap().get(&id) {
            return Ok(Some(live.subscribe()));
        }
        // The mirror is in place before its text so far is read: a journal
        // row read meanwhile either reaches it or is in what is read. Its
        // first follower subscribes under the same lock, so it is never
        // dropped as unfollowed while it loads.
        let (subscription, made) = {
            let mut mirrors = self.mirrors.lock().unwrap();
            match mirrors.get(&id) {
                Some(mirror) => (mirror.live.subscribe(), None),
                None => {
                    let mirror = Arc::new(replicas::Mirror::new(message.created_at));
                    let subscription = mirror.live.subscribe();
                    mirrors.insert(id, mirror.clone());
                    (subscription, Some(mirror))
                }
            }
        };
        if let Some(mirror) = made {
            match self.storage.streaming_text(&[(id, message.created_at)]).await {
                Ok(mut text) => mirror.loaded(&text.remove(&id).unwrap_or_default()),
                Err(err) => {
                    self.mirrors.lock().unwrap().remove(&id);
                    return Err(err);
                }
            }
        }
        Ok(Some(subscription))
    }

    /// Ends once shutdown closes the followers' streams.
    pub async fn closing(&self) {
        self.closing.cancelled().await
    }

    /// Stops a streaming answer wherever it is written: here at once, on
    /// another replica through a notification (PostgreSQL).
    pub async fn stop_anywhere(&self, id: MessageId) -> Result<(), StorageError> {
        if !self.stop(id) {
            self.storage
                .announce([crate::storage::AnswerNews::Stop(id)])
                .await?;
        }
        Ok(())
    }

    /// Cancels a streaming answer this process writes; it keeps its text
    /// and ends `stopped`. False when it writes no such answer.
    pub fn stop(&self, id: MessageId) -> bool {
        match self.live.lock().unwrap().get(&id) {
            Some(live) => {
                live.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Stops the answers of `user` still streaming (in `conversation`, or
    /// in all of theirs) wherever they are written, and waits until each
    /// has ended, at most [`END_WAIT`]: so what each cost is recorded on
    /// the student's day and the reservation released before its row is
    /// deleted. (Without this a deleted answer went on being generated,
    /// paid for and counted nowhere.)
    pub async fn end_streaming_of(
        &self,
        user: UserId,
        conversation: Option<ConversationId>,
    ) -> Result<(), StorageError> {
        let answers = self.storage.streaming_answers_of(user, conversation).await?;
        for &id in &answers {
            self.stop_anywhere(id).await?;
        }
        let deadline = Instant::now() + END_WAIT;
        for id in answers {
            while Instant::now() < deadline
                && self
                    .storage
                    .stored_answer(id)
                    .await?
                    .is_some_and(|answer| answer.status == MessageStatus::Streaming)
            {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        Ok(())
    }

    /// Number of answers being generated now.
    pub fn active(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    fn spawn_generation(self: &Arc<Self>, job: Generation) {
        let answer = job.answer;
        // A child of the shutdown deadline: both end the generation.
        let live = LiveAnswer::new(String::new(), self.deadline.child_token(), Some(job.owner));
        self.live.lock().unwrap().insert(answer, live.clone());
        let solver = Arc::clone(self);
        tokio::spawn(async move {
            let (status, outcome) = solver.generate(job, &live).await;
            crate::metrics::record_answer(status, &outcome);
            // No flush writes chunks for it after its end is stored.
            live.finishing.store(true, Ordering::Relaxed);
            drop(solver.flushing.lock().await);
            let ended = solver.store_end(answer, status, outcome, &live).await;
            // Removed before announcing, so a late subscriber reads the database instead.
            solver.live.lock().unwrap().remove(&answer);
            tracing::info!(answer = answer.0, status = ?ended.status, error = ?ended.error, "answer finished");
            live.end(ended);
        });
    }

    /// Writes how an answer ended, retrying with backoff for as long as the
    /// database refuses: the text stays in memory (followers and reloads
    /// get all of it, never a shorter stored copy) and the lease stays
    /// renewed. Past `write_give_up` the followers are told it failed,
    /// and that is what gets stored once writes work again.
    async fn store_end(
        &self,
        id: MessageId,
        mut status: MessageStatus,
        mut outcome: AnswerOutcome,
        live: &LiveAnswer,
    ) -> Ended {
        let give_up = Instant::now() + self.replica.write_give_up;
        let mut wait = Duration::from_millis(250);
        let mut failures = 0u32;
        loop {
            match self.record_end(id, status, &outcome).await {
                Ok(()) => {
                    crate::metrics::record_answer_row(outcome.content.len());
                    if failures > 0 {
                        tracing::info!(
                            answer = id.0,
                            failures,
                            "the end of an answer is stored after all"
                        );
                    }
                    return Ended {
                        status,
                        usage: Some(crate::storage::AnswerUsage {
                            input_tokens: outcome.input_tokens,
                            output_tokens: outcome.output_tokens,
                            cache_read_tokens: outcome.cache_read_tokens,
                            cache_write_tokens: outcome.cache_write_tokens,
                            cost_micros: outcome.cost_micros,
                        }),
                        error: outcome.error,
                    };
                }
                Err(err) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::error!(error = %err, answer = id.0, "cannot record the end of an answer; retrying");
                    }
                    if status != MessageStatus::Failed && Instant::now() >= give_up {
                        tracing::error!(
                            answer = id.0,
                            "the database stayed away: the answer ends as failed"
                        );
                        status = MessageStatus::Failed;
                        outcome.error = Some("storage".into());
                        live.end(Ended {
                            status,
                            error: outcome.error.clone(),
                            usage: None,
                        });
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Stops taking questions and lets every answer this process writes
    /// finish within `grace`; what still runs then is stored interrupted
    /// with its text. Followers' streams close last, so their browsers
    /// resume on another replica.
    pub async fn drain(&self, grace: Duration) {
        self.draining.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + grace;
        tracing::info!(
            answers = self.active(),
            grace_s = grace.as_secs(),
            "draining: answers in progress may finish"
        );
        while self.active() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if self.active() > 0 {
            tracing::warn!(
                answers = self.active(),
                "grace period over: stopping the answers still running"
            );
            self.deadline.cancel();
            let last = Instant::now() + Duration::from_secs(5);
            while self.active() > 0 && Instant::now() < last {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.closing.cancel();
        if let Err(err) = self.storage.forget_instance(&self.replica.instance_id).await {
            tracing::warn!(error = %err, "cannot remove this process's heartbeat");
        }
    }

    async fn generate(&self, job: Generation, live: &LiveAnswer) -> (MessageStatus, AnswerOutcome) {
        let answer = job.answer;
        let started = Instant::now();
        let mut outcome = AnswerOutcome::default();
        let mut prompt_chars = 0;
        let result = self
            .run(job, live, started, &mut outcome, &mut prompt_chars)
            .await;
        outcome.content = live.text();
        outcome.total_ms = started.elapsed().as_millis() as i64;
        // The model reports what it used at the end of its stream. One cut
        // before (stopped, deleted, broken) was still billed for what it
        // read and wrote: it is charged an estimate, never nothing.
        let reported = outcome.input_tokens
            + outcome.output_tokens
            + outcome.cache_read_tokens
            + outcome.cache_write_tokens;
        if reported == 0 && !outcome.content.is_empty() {
            outcome.input_tokens = spending::estimate_tokens(prompt_chars);
            outcome.output_tokens = spending::estimate_tokens(outcome.content.chars().count());
        }
        outcome.cost_micros = self.spending.prices.cost_micros(
            self.model.model_id(),
            &Usage {
                input_tokens: outcome.input_tokens,
                output_tokens: outcome.output_tokens,
                cache_read_tokens: outcome.cache_read_tokens,
                cache_write_tokens: outcome.cache_write_tokens,
            },
        );
        let status = match result {
            _ if self.deadline.is_cancelled() => {
                outcome.error = Some("shutdown".into());
                MessageStatus::Interrupted
            }
            _ if live.cancel.is_cancelled() => MessageStatus::Stopped,
            Ok(()) if outcome.stop_reason.is_some() => {
                if outcome.stop_reason.as_deref() == Some("max_tokens") {
                    // Complete as far as it goes: the page says it was cut off.
                    outcome.error = Some("max_tokens".into());
                }
                MessageStatus::Complete
            }
            Ok(()) => {
                // The stream ended without messageStop: the answer was cut off.
                outcome.error = Some("incomplete".into());
                MessageStatus::Failed
            }
            Err(err) => {
                tracing::warn!(answer = answer.0, error = %err, "answer failed");
                outcome.error = Some(err.kind().into());
                MessageStatus::Failed
            }
        };
        (status, outcome)
    }

    async fn run(
        &self,
        job: Generation,
        live: &LiveAnswer,
        started: Instant,
        outcome: &mut AnswerOutcome,
        prompt_chars: &mut usize,
    ) -> Result<(), ModelError> {
        let Generation {
            conversation,
            owner: _,
            subject,
            answer,
            history,
        } = job;
        let (history, any_photos) = match history {
            Some(history) => (history, false),
            None => self
                .storage
                .messages_for_model(conversation)
                .await
                .map_err(|e| ModelError::Unavailable(format!("history: {e}")))?,
        };
        // Most conversations have none: their answers make no second query.
        let mut photos = if any_photos {
            crate::storage::by_message(
                self.storage
                    .conversation_images(conversation)
                    .await
                    .map_err(|e| ModelError::Unavailable(format!("images: {e}")))?,
            )
        } else {
            Default::default()
        };
        let newest_question = history
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.id)
            .max();
        // Every earlier turn is context; failed or empty answers are left out.
        let mut turns = vec![];
        for m in history {
            let rows = photos.remove(&m.id).unwrap_or_default();
            if m.id == answer || (m.content.is_empty() && rows.is_empty()) {
                continue;
            }
            if m.role == Role::Assistant && m.status != MessageStatus::Complete {
                continue;
            }
            // A checked transcript stands in for its photos after their own
            // turn; photos never transcribed go along every time.
            let transcribed = rows.first().is_some_and(|r| r.transcribed == 1);
            let send_photos = !rows.is_empty() && (Some(m.id) == newest_question || !transcribed);
            let images = if send_photos {
                self.images
                    .for_model(&rows)
                    .await
                    .map_err(|e| ModelError::Unavailable(format!("images: {e}")))?
            } else {
                vec![]
            };
            let text = if transcribed {
                format!("{}\n\n{TRANSCRIPT_NOTE}", m.content)
            } else {
                m.content
            };
            turns.push(Turn {
                role: m.role,
                text,
                images,
            });
        }
        let request = ModelRequest {
            purpose: Purpose::Answer,
            system: system_prompt(subject),
            turns,
        };
        *prompt_chars = request.system.chars().count()
            + request
                .turns
                .iter()
                .map(|turn| turn.text.chars().count() + turn.images.len() * IMAGE_CHARS)
                .sum::<usize>();

        let mut stream = tokio::select! {
            stream = self.model.stream(request) => stream?,
            () = live.cancel.cancelled() => return Ok(()),
        };
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(self.idle_timeout, stream.next()) => next,
                () = live.cancel.cancelled() => return Ok(()),
            };
            match next {
                Err(_) => return Err(ModelError::Timeout),
                Ok(None) => return Ok(()),
                Ok(Some(Err(err))) => return Err(err),
                Ok(Some(Ok(ModelEvent::Text(delta)))) => {
                    outcome
                        .first_token_ms
                        .get_or_insert(started.elapsed().as_millis() as i64);
                    // Memory and subscribers only: the flusher persists it.
                    live.push(delta);
                }
                Ok(Some(Ok(ModelEvent::Stop(reason)))) => outcome.stop_reason = Some(reason),
                Ok(Some(Ok(ModelEvent::Usage(usage)))) => {
                    outcome.input_tokens = usage.input_tokens;
                    outcome.output_tokens = usage.output_tokens;
                    outcome.cache_read_tokens = usage.cache_read_tokens;
                    outcome.cache_write_tokens = usage.cache_write_tokens;
                }
            }
        }
    }
}

fn subject_label(subject: Subject) -> &'static str {
    match subject {
        Subject::Korean => "Korean (국어)",
        Subject::English => "English",
        Subject::Math => "Math (수학)",
        Subject::Other => "Other",
    }
}

/// A transcription under way: its model stream, and whom it is counted for.
pub struct Transcription {
    pub stream: crate::model::ModelStream,
    pub user: UserId,
    pub day: String,
    pub model_id: String,
    pub idle_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_titles_are_cleaned_or_refused() {
        assert_eq!(
            clean_title("광합성 명반응 비교").as_deref(),
            Some("광합성 명반응 비교")
        );
        assert_eq!(
            clean_title("\n## 제목: “이차함수 최댓값”.\nmore").as_deref(),
            Some("이차함수 최댓값")
        );
        assert_eq!(
            clean_title("Title: \"Quadratic maxima\"").as_deref(),
            Some("Quadratic maxima")
        );
        assert_eq!(clean_title("  \n \"\" "), None);
        let long = clean_title(&"가".repeat(80)).unwrap();
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn fallback_titles_are_the_first_line() {
        assert_eq!(title_from("\n  첫 줄\n둘째 줄"), "첫 줄");
        assert_eq!(title_from("   "), "새 문제");
    }
}
