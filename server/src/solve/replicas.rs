//! Several replicas on one database.
//!
//! - **Leases.** Every process renews, every third of a lease, the leases of
//!   the answers it writes together with its heartbeat row; then it sweeps:
//!   answers whose lease expired lost their writer and are marked
//!   interrupted with their text. A process that starts or stops leaves the
//!   other processes' answers alone. The heartbeat is a write, so it also
//!   tells readiness whether the database takes writes.
//! - **Mirrors.** Followers connected to a replica that does not write the
//!   answer read a mirror of it, fed from the answer journal (one row per
//!   flush of each writer, `storage::journal`): this process reads each new
//!   row once and hands every mirrored answer its pieces. On PostgreSQL each
//!   flush announces its row (`LISTEN weasel_answers`); a tick also reads
//!   what is new in case a notification was lost (and is the only driver on
//!   SQLite). A mirror that finds a gap in its text (it was made while rows
//!   were in flight) reads its whole text again.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, Weak, atomic::Ordering},
    time::{Duration, Instant},
};

use tokio::sync::mpsc;

use super::{Ended, LiveAnswer, Solver};
use crate::storage::{ANSWERS_CHANNEL, AnswerNews, MessageId, MessageStatus, Storage};

/// A heartbeat that takes longer than this counts as a failed write.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a journal row announced, or skipped over by a newer one, is
/// looked for: a writer on another replica that had taken its id had not
/// committed yet. Past this, a mirror that misses its text finds a gap and
/// reads its whole text again.
const AWAIT_ROW: Duration = Duration::from_secs(10);

/// At most this many such rows are awaited at once.
const AWAITED_MAX: usize = 1000;

/// How often the journal is read whatever the notifications say.
const RESYNC_WITH_NOTIFY: Duration = Duration::from_secs(1);
const RESYNC_WITHOUT_NOTIFY: Duration = Duration::from_millis(500);

pub(super) async fn keep_forever(solver: Weak<Solver>) {
    let period = match solver.upgrade() {
        Some(solver) => solver.replica.lease / 3,
        None => return,
    };
    let mut every = tokio::time::interval(period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(solver) = solver.upgrade() else { return };
        solver.keep().await;
    }
}

impl Solver {
    /// One heartbeat (renewing this process's leases), then one sweep of
    /// answers whose writer is gone.
    pub async fn keep(&self) {
        let id = &self.replica.instance_id;
        let beat = tokio::time::timeout(
            HEARTBEAT_TIMEOUT,
            self.heartbeat.heartbeat(id, self.started_at, self.replica.lease),
        )
        .await;
        let ok = match beat {
            Ok(Ok(_)) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "heartbeat not written: the database refuses writes");
                false
            }
            Err(_) => {
                tracing::warn!("heartbeat not written in time");
                false
            }
        };
        let was = self.writable.swap(ok, Ordering::Relaxed);
        if ok && !was {
            tracing::info!("the database takes writes again");
        }
        metrics::gauge!("weasel_database_writable").set(if ok { 1.0 } else { 0.0 });
        if !ok {
            return;
        }
        match self.storage.sweep_expired(self.replica.lease).await {
            Ok(swept) if !swept.is_empty() => {
                tracing::warn!(
                    answers = swept.len(),
                    "answers whose writer stopped renewing its lease are marked interrupted"
                );
                metrics::counter!("weasel_answers_swept_total").increment(swept.len() as u64);
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot sweep answers with expired leases"),
        }
    }
}

/// An answer another process writes, followed here.
pub(super) struct Mirror {
    pub live: Arc<LiveAnswer>,
    /// When it began (where its journal rows start).
    pub began: i64,
    /// While its text so far is being read: the pieces that did not follow
    /// on meanwhile, applied after that text (they are not gaps yet).
    pub loading: Loading,
}

/// See [`Mirror::loading`]: `None` once loaded.
pub(super) type Loading = Arc<Mutex<Option<Vec<(usize, String)>>>>;

impl Mirror {
    pub fn new(began: i64) -> Mirror {
        Mirror {
            live: LiveAnswer::new(String::new(), tokio_util::sync::CancellationToken::new(), None),
            began,
            loading: Arc::new(Mutex::new(Some(vec![]))),
        }
    }

    /// Whether its text so far is still being read.
    pub fn is_loading(&self) -> bool {
        self.loading.lock().unwrap().is_some()
    }

    /// A piece of its text read from the journal: appended if it follows on
    /// (or repeats what it has); kept for later while its text so far is
    /// being read; else a gap, and false.
    pub fn offer(&self, start: usize, piece: &str) -> bool {
        if self.live.extend_from(start, piece) {
            return true;
        }
        match &mut *self.loading.lock().unwrap() {
            Some(waiting) => {
                waiting.push((start, piece.to_string()));
                true
            }
            None => false,
        }
    }

    /// Its text so far was read (`text`): applied, then the pieces that
    /// arrived meanwhile.
    pub fn loaded(&self, text: &str) {
        self.live.extend_from(0, text);
        let mut waiting = self.loading.lock().unwrap().take().unwrap_or_default();
        waiting.sort_by_key(|(start, _)| *start);
        for (start, piece) in waiting {
            // One that still does not follow on is a real gap: the next
            // piece finds it and the text is read again.
            self.live.extend_from(start, &piece);
        }
    }
}

/// Where this process is in the answer journal.
struct Cursor {
    /// Every row up to this id was read, or written before any mirror here
    /// needed it, except those awaited.
    seen: i64,
    /// Rows not found yet that may still commit, since when.
    awaited: HashMap<i64, Instant>,
}

/// Feeds the mirrors until the solver is dropped.
pub(super) async fn mirror_forever(solver: Weak<Solver>, storage: Storage) {
    let (news_tx, mut news) = mpsc::unbounded_channel::<Vec<AnswerNews>>();
    let resync = match &storage {
        Storage::Postgres(pool) => {
            let pool = pool.clone();
            tokio::spawn(listen(pool, news_tx));
            RESYNC_WITH_NOTIFY
        }
        Storage::Sqlite(_) => RESYNC_WITHOUT_NOTIFY,
    };
    let mut cursor = Cursor {
        seen: storage.journal_head().await.unwrap_or(0),
        awaited: HashMap::new(),
    };
    let mut every = tokio::time::interval(resync);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let named = tokio::select! {
            _ = every.tick() => None,
            Some(first) = news.recv() => {
                let mut all = first;
                while let Ok(more) = news.try_recv() {
                    all.extend(more);
                }
                Some(all)
            }
        };
        let Some(solver) = solver.upgrade() else { return };
        solver.refresh_mirrors(named, &mut cursor).await;
    }
}

/// Forwards this database's answer notifications. The listener reconnects
/// by itself after a lost connection; what was sent meanwhile is caught by
/// the resync tick.
async fn listen(pool: sqlx::PgPool, news: mpsc::UnboundedSender<Vec<AnswerNews>>) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for answer notifications; polling meanwhile");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(ANSWERS_CHANNEL).await {
            tracing::warn!(error = %err, "cannot listen for answer notifications; polling meanwhile");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(notification) => {
                    if news.send(AnswerNews::parse(notification.payload())).is_err() {
                        return;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "answer notifications interrupted; reconnecting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

impl Solver {
    /// Brings mirrors up to date after `named` notifications, or after a
    /// tick (`None`): reads the journal rows that are new, and checks which
    /// mirrored answers ended (those named, or all on a tick). Mirrors nobody
    /// follows any more are dropped first.
    async fn refresh_mirrors(&self, named: Option<Vec<AnswerNews>>, cursor: &mut Cursor) {
        let mut rows_named = vec![];
        let mut text_named = HashSet::new();
        let mut ended_named = HashSet::new();
        for news in named.iter().flatten() {
            match *news {
                // Stops pressed on other replicas, for answers written here.
                AnswerNews::Stop(id) => {
                    self.stop(id);
                }
                AnswerNews::Journal(row) => rows_named.push(row),
                AnswerNews::Text(id) => {
                    text_named.insert(id);
                }
                AnswerNews::Ended(id) => {
                    ended_named.insert(id);
                }
            }
        }
        let mirrors: HashMap<MessageId, Arc<Mirror>> = {
            let mut mirrors = self.mirrors.lock().unwrap();
            mirrors.retain(|_, m| m.live.events.receiver_count() > 0);
            mirrors.clone()
        };
        if mirrors.is_empty() {
            // Nothing to feed: skip what was written meanwhile (a new
            // mirror starts from the answer's whole text).
            cursor.awaited.clear();
            cursor.seen = cursor.seen.max(rows_named.iter().copied().max().unwrap_or(0));
            if named.is_none()
                && let Ok(head) = self.storage.journal_head().await
            {
                cursor.seen = cursor.seen.max(head);
            }
            return;
        }
        // Answers a process of the previous version writes are re-read whole.
        let mut reread: HashSet<MessageId> = text_named
            .into_iter()
            .filter(|id| mirrors.contains_key(id))
            .collect();
        self.read_journal(&mirrors, cursor, &mut reread).await;
        if !reread.is_empty() {
            let answers: Vec<(MessageId, i64)> = reread.iter().map(|id| (*id, mirrors[id].began)).collect();
            match self.storage.streaming_text(&answers).await {
                Ok(texts) => {
                    for (id, text) in texts {
                        mirrors[&id].live.extend_from(0, &text);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot read other replicas' answers"),
            }
        }
        let ended: HashSet<MessageId> = match named {
            None => mirrors.keys().copied().collect(),
            Some(_) => ended_named
                .into_iter()
                .filter(|id| mirrors.contains_key(id))
                .collect(),
        };
        if !ended.is_empty() {
            let ids: Vec<MessageId> = ended.iter().copied().collect();
            let rows = match self.storage.answers_among(&ids).await {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read other replicas' answers");
                    return;
                }
            };
            let found: HashSet<MessageId> = rows.iter().map(|m| m.id).collect();
            let mut gone = vec![];
            for row in rows.into_iter().filter(|m| m.status != MessageStatus::Streaming) {
                let mirror = &mirrors[&row.id].live;
                mirror.extend_from(0, &row.content);
                mirror.end(Ended {
                    status: row.status,
                    error: row.error,
                    usage: None,
                });
                gone.push(row.id);
            }
            // Deleted meanwhile: its followers' channel closes and they look it up.
            gone.extend(ids.into_iter().filter(|id| !found.contains(id)));
            let mut mirrors = self.mirrors.lock().unwrap();
            for id in gone {
                mirrors.remove(&id);
            }
        }
    }

    /// Reads the journal rows after the cursor and those awaited, once, and
    /// hands each mirror its pieces; a mirror left with a gap goes into `reread`.
    async fn read_journal(
        &self,
        mirrors: &HashMap<MessageId, Arc<Mirror>>,
        cursor: &mut Cursor,
        reread: &mut HashSet<MessageId>,
    ) {
        let now = Instant::now();
        cursor
            .awaited
            .retain(|_, since| now.duration_since(*since) < AWAIT_ROW);
        let also: Vec<i64> = cursor.awaited.keys().copied().collect();
        let rows = match self.storage.journal_after(cursor.seen, &also).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read other replicas' answers");
                return;
            }
        };
        let read: HashSet<i64> = rows.iter().map(|row| row.id).collect();
        let newest = read.iter().copied().max().unwrap_or(0).max(cursor.seen);
        // Ids taken by writers that had not committed when newer rows did.
        for id in (cursor.seen + 1..newest).filter(|id| !read.contains(id)) {
            if cursor.awaited.len() >= AWAITED_MAX {
                break;
            }
            cursor.awaited.insert(id, now);
        }
        cursor.awaited.retain(|id, _| !read.contains(id));
        cursor.seen = newest;
        for row in rows {
            let pieces = match crate::storage::decode_journal(&row.body) {
                Ok(pieces) => pieces,
                Err(err) => {
                    tracing::error!(row = row.id, error = %err, "a journal row does not decode; skipped");
                    continue;
                }
            };
            for (id, start, text) in pieces {
                if let Some(mirror) = mirrors.get(&id)
                    && !mirror.offer(start, text)
                {
                    reread.insert(id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::LiveEvent;

    #[test]
    fn a_mirror_keeps_pieces_that_arrive_while_it_loads_and_reports_later_gaps() {
        let mirror = Mirror::new(0);
        let mut events = mirror.live.subscribe().events;
        // While its text so far ("정답: ") is read, the next two pieces arrive.
        assert!(mirror.offer(10, "③"), "held, not a gap");
        assert!(mirror.offer(6, "은 "), "held, not a gap");
        assert_eq!(mirror.live.text(), "");
        mirror.loaded("정답");
        assert_eq!(mirror.live.text(), "정답은 ③");
        assert!(!mirror.is_loading());
        // Followers got every byte once, in order.
        let mut seen = String::new();
        while let Ok(LiveEvent::Delta { offset, text }) = events.try_recv() {
            assert_eq!(offset, seen.len());
            seen.push_str(&text);
        }
        assert_eq!(seen, "정답은 ③");
        // Loaded: a repeat is harmless, a piece past the end is a gap.
        assert!(mirror.offer(0, "정답"));
        assert!(!mirror.offer(40, "끝"), "a gap once loaded");
        assert_eq!(mirror.live.text(), "정답은 ③");
    }
}
