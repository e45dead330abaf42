//! The text of answers while they stream: a journal in time order.
//!
//! Every flush appends **one** row holding what each answer this process
//! writes received since the last flush, as `(answer, byte offset, text)`
//! pieces. Rows are only ever added at the end of the table, so a flush
//! dirties the table's last pages and nothing else, whatever the number of
//! answers streaming. (A row per answer, keyed by answer, touched at least
//! one database page per answer per flush: 112–132 times the text reached
//! the disk with a thousand answers streaming.) An answer's own row, and so
//! the search index, is written once, complete, when it ends.
//!
//! One answer's text is read back from the rows written since it began:
//! for a page load of an answer another process writes, for a mirror that
//! lost track, and when an answer whose writer died is marked interrupted.
//! Other replicas follow the journal itself (each new row is announced on
//! PostgreSQL). The sweep deletes rows older than the oldest streaming answer.

use std::collections::HashMap;

use futures_util::TryStreamExt;

use super::{
    AnswerNews, Chunk, End, Flushed, MessageId, Result, Storage, conversations::finish_in, leases::notify_in,
    now_millis,
};

/// How far before an answer began its journal rows are looked for, and
/// kept: its rows are written by the process that created it, after it did,
/// so this only absorbs a step of that machine's clock.
const CLOCK_MARGIN_MS: i64 = 10_000;

/// A journal row: its id (in commit order on SQLite; in order of writing
/// on PostgreSQL, where concurrent writers may commit out of order) and its pieces.
#[derive(Debug)]
pub struct JournalRow {
    pub id: i64,
    pub body: Vec<u8>,
}

/// A journal row that does not decode (never written by this code).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("journal row is corrupt")]
pub struct Corrupt;

/// The row body: for each piece, ordered by answer id, the id's difference
/// from the previous piece's (the first: from 0), the byte offset and the
/// byte length, as LEB128 varints, then the UTF-8 text. About four bytes of
/// framing per piece, where a piece is a quarter second of one answer.
pub fn encode(chunks: &[Chunk<'_>]) -> Vec<u8> {
    let mut sorted: Vec<&Chunk<'_>> = chunks.iter().collect();
    sorted.sort_by_key(|c| (c.message, c.start_at));
    let mut body = Vec::with_capacity(chunks.iter().map(|c| c.text.len() + 8).sum());
    let mut previous = 0u64;
    for chunk in sorted {
        let id = chunk.message.0 as u64;
        put_varint(&mut body, id.wrapping_sub(previous));
        previous = id;
        put_varint(&mut body, chunk.start_at as u64);
        put_varint(&mut body, chunk.text.len() as u64);
        body.extend_from_slice(chunk.text.as_bytes());
    }
    body
}

/// The pieces of a row body, as [`encode`] wrote them.
pub fn decode(mut body: &[u8]) -> std::result::Result<Vec<(MessageId, usize, &str)>, Corrupt> {
    let mut pieces = vec![];
    let mut id = 0u64;
    while !body.is_empty() {
        id = id.wrapping_add(take_varint(&mut body)?);
        let start = usize::try_from(take_varint(&mut body)?).map_err(|_| Corrupt)?;
        let len = usize::try_from(take_varint(&mut body)?).map_err(|_| Corrupt)?;
        let (text, rest) = body.split_at_checked(len).ok_or(Corrupt)?;
        let text = std::str::from_utf8(text).map_err(|_| Corrupt)?;
        pieces.push((MessageId(id as i64), start, text));
        body = rest;
    }
    Ok(pieces)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn take_varint(input: &mut &[u8]) -> std::result::Result<u64, Corrupt> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(Corrupt)?;
        *input = rest;
        value |= u64::from(byte & 0x7f).checked_shl(shift).ok_or(Corrupt)?;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Corrupt)
}

/// Puts pieces of one answer, in any order and possibly overlapping,
/// together: the text they hold contiguously from offset 0.
#[derive(Default)]
pub struct Assembler {
    pieces: Vec<(usize, String)>,
}

impl Assembler {
    pub fn add(&mut self, start: usize, text: &str) {
        self.pieces.push((start, text.to_string()));
    }

    pub fn text(mut self) -> String {
        self.pieces.sort_by_key(|(start, _)| *start);
        let mut text = String::new();
        for (start, piece) in self.pieces {
            if start > text.len() {
                break;
            }
            let known = text.len() - start;
            if known < piece.len() && piece.is_char_boundary(known) {
                text.push_str(&piece[known..]);
            }
        }
        text
    }
}

impl Storage {
    /// Appends one journal row with `chunks` (what the answers this process
    /// writes received since the last flush) and, on PostgreSQL, announces
    /// it in the same transaction. Its id and encoded bytes; `None` when
    /// there was nothing.
    pub async fn append_journal(&self, chunks: &[Chunk<'_>]) -> Result<Option<(i64, usize)>> {
        Ok(self.flush(chunks, &[]).await?.journal)
    }

    /// Whether writes are best grouped: answers' ends recorded together by
    /// a flush ([`Self::flush`]), questions waiting for the writer written
    /// together ([`Self::begin_questions`]), rather than each in a
    /// transaction of its own.
    ///
    /// SQLite: yes. Its WAL takes whole pages, so ends or questions written
    /// together share the pages each writes (the messages' and the day's
    /// rows, the leases, the search backlog), and there is one writer anyway.
    /// PostgreSQL: no. Its WAL takes records, not pages, and one
    /// transaction holding the row locks of many ends (students' days,
    /// leases, messages) deadlocked against other replicas' flushes,
    /// questions, heartbeats and sweeps (seen with three replicas).
    pub fn groups_writes(&self) -> bool {
        matches!(self, Storage::Sqlite(_))
    }

    /// One flush, in ONE transaction (group commit): a journal row with
    /// `chunks`, and how each answer of `ends` ended ([`finish_in!`]).
    /// The solver gives it ends only where [`Self::groups_writes`]. Where an
    /// end shares the transaction, it is rolled back alone if it fails (a
    /// savepoint) and reported in [`Flushed::ends`]; a failure of the
    /// journal row, of a lone end or of the commit fails the whole flush. On PostgreSQL
    /// the row and the ends are announced in the same transaction, and
    /// a flush with no end commits without waiting for its WAL to reach the
    /// disk: streaming text may lose its last interval in a crash anyway
    /// (the answer is then interrupted with what the journal holds), and
    /// the questions' own commits do not queue behind it.
    #[tracing::instrument(skip_all, fields(chunks = chunks.len(), ends = ends.len()))]
    pub async fn flush(&self, chunks: &[Chunk<'_>], ends: &[End<'_>]) -> Result<Flushed> {
        let mut flushed = Flushed {
            journal: None,
            ends: Vec::with_capacity(ends.len()),
        };
        if chunks.is_empty() && ends.is_empty() {
            return Ok(flushed);
        }
        let body = (!chunks.is_empty()).then(|| encode(chunks));
        let now = now_millis();
        on_pool!(self, pool => {
            let postgres = matches!(self, Storage::Postgres(_));
            let mut tx = begin_write!(pool).await?;
            if postgres && ends.is_empty() {
                sqlx::query("SET LOCAL synchronous_commit TO OFF")
                    .execute(&mut *tx)
                    .await?;
            }
            let mut news = vec![];
            if let Some(body) = &body {
                let id = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO answer_journal (written_at, body) VALUES ($1, $2) RETURNING id",
                )
                .bind(now)
                .bind(body)
                .fetch_one(&mut *tx)
                .await?;
                news.push(AnswerNews::Journal(id));
                flushed.journal = Some((id, body.len()));
            }
            // An end alone in its transaction (`finish_answer`, every end on
            // PostgreSQL) needs no savepoint: its failure fails the flush.
            if body.is_none() && ends.len() == 1 {
                finish_in!(tx, ends[0].id, ends[0].status, ends[0].outcome);
                news.push(AnswerNews::Ended(ends[0].id));
                flushed.ends.push(Ok(()));
            } else {
                for end in ends {
                    let mut savepoint = sqlx::Acquire::begin(&mut tx).await?;
                    let recorded: Result<()> = async {
                        finish_in!(savepoint, end.id, end.status, end.outcome);
                        Ok(())
                    }
                    .await;
                    match recorded {
                        Ok(()) => {
                            savepoint.commit().await?;
                            news.push(AnswerNews::Ended(end.id));
                            flushed.ends.push(Ok(()));
                        }
                        Err(err) => {
                            savepoint.rollback().await?;
                            flushed.ends.push(Err(err));
                        }
                    }
                }
            }
            if postgres {
                notify_in!(tx, news);
            }
            tx.commit().await?;
        });
        Ok(flushed)
    }

    /// The newest journal row's id (0 when there is none).
    pub async fn journal_head(&self) -> Result<i64> {
        let head: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT max(id) FROM answer_journal",
        )
        .fetch_one(pool)
        .await)?;
        Ok(head.unwrap_or(0))
    }

    /// Journal rows after `seen`, and those of `also` (rows announced that
    /// may have committed after a newer one was read), in id order.
    #[tracing::instrument(skip_all)]
    pub async fn journal_after(&self, seen: i64, also: &[i64]) -> Result<Vec<JournalRow>> {
        let rows: Vec<(i64, Vec<u8>)> = on_pool!(self, pool => {
            let mut query = sqlx::QueryBuilder::new("SELECT id, body FROM answer_journal WHERE id > ");
            query.push_bind(seen);
            if !also.is_empty() {
                query.push(" OR id IN (");
                let mut list = query.separated(", ");
                for id in also.iter().take(1000) {
                    list.push_bind(*id);
                }
                query.push(")");
            }
            query.push(" ORDER BY id");
            query.build_query_as().fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, body)| JournalRow { id, body })
            .collect())
    }

    /// The text streaming answers have in the journal so far, for each of
    /// `answers` (id and when it began); an answer with none is absent.
    #[tracing::instrument(skip_all, fields(answers = answers.len()))]
    pub async fn streaming_text(&self, answers: &[(MessageId, i64)]) -> Result<HashMap<MessageId, String>> {
        let Some(began) = answers.iter().map(|(_, at)| *at).min() else {
            return Ok(HashMap::new());
        };
        let mut assemblers: HashMap<MessageId, Assembler> = answers
            .iter()
            .map(|(id, _)| (*id, Assembler::default()))
            .collect();
        // Row by row: only the pieces of these answers are kept in memory.
        let mut take = |body: Vec<u8>| {
            let Ok(pieces) = decode(&body) else {
                tracing::error!("a journal row does not decode; skipped");
                return;
            };
            for (id, start, text) in pieces {
                if let Some(assembler) = assemblers.get_mut(&id) {
                    assembler.add(start, text);
                }
            }
        };
        on_pool!(self, pool => {
            let mut rows = sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT body FROM answer_journal WHERE written_at >= $1 ORDER BY id",
            )
            .bind(began - CLOCK_MARGIN_MS)
            .fetch(pool);
            while let Some(body) = rows.try_next().await? {
                take(body);
            }
        });
        // Answers a process of the previous version was writing during a
        // rolling update: their text is in `answer_chunks`.
        for batch in answers.chunks(500) {
            let legacy: Vec<(MessageId, i64, String)> = on_pool!(self, pool => {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT message_id, start_at, text FROM answer_chunks WHERE message_id IN (",
                );
                let mut list = query.separated(", ");
                for (id, _) in batch {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build_query_as().fetch_all(pool).await
            })?;
            for (id, start, text) in legacy {
                if let Some(assembler) = assemblers.get_mut(&id) {
                    assembler.add(start as usize, &text);
                }
            }
        }
        Ok(assemblers
            .into_iter()
            .map(|(id, assembler)| (id, assembler.text()))
            .filter(|(_, text)| !text.is_empty())
            .collect())
    }

    /// Deletes journal rows no streaming answer can need: those written
    /// before the oldest one began (all but the last moments when none streams).
    #[tracing::instrument(skip_all)]
    pub async fn trim_journal(&self) -> Result<u64> {
        let horizon = now_millis();
        let deleted = on_pool!(self, pool => async {
            let mut tx = begin_write!(pool).await?;
            let oldest: Option<i64> =
                sqlx::query_scalar("SELECT min(created_at) FROM messages WHERE status = 'streaming'")
                    .fetch_one(&mut *tx)
                    .await?;
            let deleted = sqlx::query("DELETE FROM answer_journal WHERE written_at < $1")
                .bind(oldest.unwrap_or(horizon).min(horizon) - CLOCK_MARGIN_MS)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<_, sqlx::Error>(deleted)
        }
        .await)?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_stay_small() {
        let long = "x".repeat(300);
        let texts = ["풀이: ", "정답은 ③", "", long.as_str()];
        let chunks: Vec<Chunk<'_>> = [(9_000_000_007i64, 0usize), (12, 4096), (12, 0), (13, 70_000)]
            .iter()
            .zip(texts)
            .map(|(&(id, start_at), text)| Chunk {
                message: MessageId(id),
                start_at,
                text,
            })
            .collect();
        let body = encode(&chunks);
        let mut back = decode(&body).unwrap();
        back.sort();
        let mut expected: Vec<(MessageId, usize, &str)> =
            chunks.iter().map(|c| (c.message, c.start_at, c.text)).collect();
        expected.sort();
        assert_eq!(back, expected);
        let text: usize = texts.iter().map(|t| t.len()).sum();
        assert!(
            body.len() <= text + 4 * 8,
            "{} bytes for {text} of text",
            body.len()
        );
    }

    #[test]
    fn damaged_bodies_are_refused_not_misread() {
        let body = encode(&[Chunk {
            message: MessageId(5),
            start_at: 3,
            text: "한국어",
        }]);
        for cut in 1..body.len() {
            assert_eq!(decode(&body[..cut]), Err(Corrupt), "cut at {cut}");
        }
        let mut split_char = body.clone();
        let last = split_char.len() - 1;
        split_char[last] = 0xff;
        assert_eq!(decode(&split_char), Err(Corrupt));
        assert_eq!(decode(&[0xff; 11]), Err(Corrupt));
        assert_eq!(decode(&[]), Ok(vec![]));
    }

    #[test]
    fn pieces_assemble_in_order_without_repeating_or_skipping() {
        let mut text = Assembler::default();
        text.add(9, "다음");
        text.add(0, "정답");
        text.add(3, "답은");
        text.add(0, "정");
        assert_eq!(text.text(), "정답은다음");
        let mut gap = Assembler::default();
        gap.add(0, "ab");
        gap.add(5, "cd");
        assert_eq!(gap.text(), "ab", "text after a gap is not made up");
    }
}
