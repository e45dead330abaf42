//! Several replicas on one database.
//!
//! - **Leases.** Every process renews, every third of a lease, the leases of
//!   the answers it writes together with its heartbeat row; then it sweeps:
//!   answers whose lease expired lost their writer and are marked
//!   interrupted with their text. A process that starts or stops leaves the
//!   other processes' answers alone. The heartbeat is a write, so it also
//!   tells readiness whether the database takes writes.
//! - **Mirrors.** Followers connected to a replica that does not write the
//!   answer read a mirror of it, fed from the database: on PostgreSQL each
//!   flush sends a notification (`LISTEN weasel_answers`) naming the answers
//!   that have new chunks, and one query reads the new text of all the
//!   mirrored answers it names. A slow tick re-reads everything in case a
//!   notification was lost (and is the only driver on SQLite).

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Weak, atomic::Ordering},
    time::Duration,
};

use tokio::sync::mpsc;

use super::{Ended, LiveAnswer, Solver};
use crate::storage::{ANSWERS_CHANNEL, AnswerNews, MessageId, MessageStatus, Storage};

/// A heartbeat that takes longer than this counts as a failed write.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);

/// How often mirrors are re-read whatever the notifications say.
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
        solver.refresh_mirrors(named).await;
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
    /// Brings mirrors up to date: those `named` by notifications, or all of
    /// them when `None`. Mirrors nobody follows any more are dropped first.
    async fn refresh_mirrors(&self, named: Option<Vec<AnswerNews>>) {
        // Stops pressed on other replicas, for answers written here.
        for news in named.iter().flatten() {
            if let AnswerNews::Stop(id) = news {
                self.stop(*id);
            }
        }
        let mirrors: HashMap<MessageId, Arc<LiveAnswer>> = {
            let mut mirrors = self.mirrors.lock().unwrap();
            mirrors.retain(|_, m| m.events.receiver_count() > 0);
            mirrors.iter().map(|(id, m)| (*id, m.clone())).collect()
        };
        if mirrors.is_empty() {
            return;
        }
        let (with_text, ended): (HashSet<MessageId>, HashSet<MessageId>) = match named {
            None => (
                mirrors.keys().copied().collect(),
                mirrors.keys().copied().collect(),
            ),
            Some(news) => {
                let mut text = HashSet::new();
                let mut ended = HashSet::new();
                for item in news {
                    match item {
                        AnswerNews::Text(id) if mirrors.contains_key(&id) => {
                            text.insert(id);
                        }
                        AnswerNews::Ended(id) if mirrors.contains_key(&id) => {
                            ended.insert(id);
                        }
                        // Handled above.
                        AnswerNews::Stop(_) => {}
                        _ => {}
                    }
                }
                (text, ended)
            }
        };
        if !with_text.is_empty() {
            let after: Vec<(MessageId, usize)> =
                with_text.iter().map(|id| (*id, mirrors[id].len())).collect();
            match self.storage.chunks_after(&after).await {
                Ok(chunks) => {
                    for (id, start, text) in chunks {
                        mirrors[&id].extend_from(start, &text);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot read other replicas' answers"),
            }
        }
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
                let mirror = &mirrors[&row.id];
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
}
