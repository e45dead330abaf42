//! An answer rendered while it streams, on the server: the browser gets
//! HTML patches and never renders Markdown or math itself (that code stays
//! out of the wasm bundle, and a phone does not re-render the whole answer
//! for every few words).
//!
//! Markdown's top-level blocks settle: once a block is followed by another,
//! no later text can change it. So only the last block (the tail) is
//! rendered again as text arrives, and each [`Patch`] carries what changed
//! from where the reader's HTML first differs: usually just the new words
//! and the tags that close them. A list or a paragraph is one block however
//! long it grows; past [`LONG_TAIL`] a list's finished items, or a
//! paragraph's finished lines, settle too, which keeps every render small
//! (and the work per answer linear in its length). [`Streaming::finish`]
//! then sends whatever differs from the answer rendered whole, so the end
//! is exactly what a reload shows.

use std::ops::Range;

use pulldown_cmark::{Event, Parser, Tag};

use crate::{OPTIONS, fragment, mark_final_answer};

/// A tail longer than this (bytes) lets a list's finished items, or a
/// paragraph's finished lines, settle.
pub const LONG_TAIL: usize = 1_500;

/// The reader truncates its HTML to `at` bytes, then appends `html`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub at: usize,
    pub html: String,
}

impl Patch {
    /// Applies the patch to `html`, as the browser does; false (and `html`
    /// untouched) when `at` does not fit it.
    pub fn apply(&self, html: &mut String) -> bool {
        if self.at > html.len() || !html.is_char_boundary(self.at) {
            return false;
        }
        html.truncate(self.at);
        html.push_str(&self.html);
        true
    }
}

/// One reader's rendering of one streaming answer. It keeps the text and
/// the tail's HTML, not the reader's whole HTML: the settled part is only
/// counted and hashed (memory per open stream matters at exam-season scale).
#[derive(Debug, Default)]
pub struct Streaming {
    /// The whole text so far.
    text: String,
    /// Where the tail starts in `text`: everything before is settled.
    tail: usize,
    /// Bytes of the reader's HTML that are settled, and their hash.
    settled: usize,
    settled_hash: Fnv,
    /// The tail as the reader has it rendered, after the settled part.
    tail_html: String,
    /// Whether the reader has been sent anything yet.
    started: bool,
    /// Bytes of `text` rendered so far.
    rendered: usize,
    /// Whether text appended since the last render has a line break.
    new_line: bool,
}

impl Streaming {
    /// Bytes of text so far.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether no text has come yet.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Adds text and renders it: [`Streaming::append`], then
    /// [`Streaming::update`].
    pub fn push(&mut self, more: &str) -> Option<Patch> {
        self.append(more);
        self.update()
    }

    /// Adds text without rendering it yet (a reader that renders at most so
    /// often, however fast the text comes).
    pub fn append(&mut self, more: &str) {
        self.text.push_str(more);
        // Blocks, items and lines start after a line break: without a new
        // one, nothing new can settle.
        self.new_line |= more.contains('\n');
    }

    /// Whether text was appended since the last render (or nothing was ever
    /// sent).
    pub fn pending(&self) -> bool {
        !self.started || self.rendered < self.text.len()
    }

    /// Renders what was appended: the patch that brings the reader's HTML
    /// up to date (the first one starts at 0: it is the whole HTML), or
    /// `None` when the HTML did not change.
    pub fn update(&mut self) -> Option<Patch> {
        if !self.pending() {
            return None;
        }
        let mut fresh = String::new();
        if let Some(cut) = (self.new_line || !self.started)
            .then(|| settle_point(&self.text[self.tail..]))
            .flatten()
        {
            let (start, end) = (self.tail, self.tail + cut);
            fresh = self.render_range(start..end);
            self.tail = end;
        }
        let settled_now = fresh.len();
        fresh.push_str(&self.render_range(self.tail..self.text.len()));
        // What the reader has after the settled part is `tail_html`.
        let same = common_prefix(&self.tail_html, &fresh);
        let changed = same < fresh.len() || same < self.tail_html.len();
        let patch = (changed || !self.started).then(|| Patch {
            at: self.settled + same,
            html: fresh[same..].to_owned(),
        });
        self.started = true;
        self.new_line = false;
        self.rendered = self.text.len();
        self.settled_hash.write(&fresh.as_bytes()[..settled_now]);
        self.settled += settled_now;
        fresh.drain(..settled_now);
        self.tail_html = fresh;
        patch
    }

    /// The answer has ended: the patch (if any) that renders what was
    /// appended and makes the reader's HTML the answer rendered whole,
    /// exactly as a reload shows it. (Settling
    /// block by block can differ in rare cases, such as a long list split
    /// between its items; then the whole HTML is sent again.)
    pub fn finish(&mut self) -> Option<Patch> {
        let last = self.update();
        let whole = crate::render(&self.text);
        let mut shown = self.settled_hash;
        shown.write(self.tail_html.as_bytes());
        let mut wanted = Fnv::default();
        wanted.write(whole.as_bytes());
        if self.settled + self.tail_html.len() == whole.len() && shown == wanted {
            return last;
        }
        self.tail = 0;
        self.settled = 0;
        self.settled_hash = Fnv::default();
        self.tail_html = whole.clone();
        Some(Patch { at: 0, html: whole })
    }

    /// Renders `text[range]`; the answer's first block may be its final answer.
    fn render_range(&self, range: Range<usize>) -> String {
        let start = range.start;
        let html = fragment(&self.text[range]);
        if start == 0 { mark_final_answer(html) } else { html }
    }
}

/// How many bytes at the start of `tail` are settled, or `None`: up to the
/// last top-level block that follows a blank line and that no later text
/// can join to the block before it; in a long list, up to its last item;
/// in a long paragraph, up to its last line. Always at a line's start, and
/// never 0.
fn settle_point(tail: &str) -> Option<usize> {
    let mut depth = 0usize;
    // (start, is a list) of each top-level block; the last list's last item.
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    let mut last_item = None;
    let mut paragraph = false;
    for (event, range) in Parser::new_ext(tail, OPTIONS).into_offset_iter() {
        if depth == 0 {
            let list = matches!(event, Event::Start(Tag::List(_)));
            paragraph = matches!(event, Event::Start(Tag::Paragraph));
            blocks.push((line_start(tail, range.start), list));
            last_item = None;
        } else if depth == 1
            && blocks.last().is_some_and(|&(_, list)| list)
            && matches!(event, Event::Start(Tag::Item))
        {
            last_item = Some(line_start(tail, range.start));
        }
        match event {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let &(last, _) = blocks.last()?;
    if tail.len() - last > LONG_TAIL {
        let last_line = paragraph
            .then(|| tail[last..].trim_end().rfind('\n'))
            .flatten()
            .map(|newline| last + newline + 1);
        if let Some(cut) = last_item.or(last_line).filter(|&cut| cut > last) {
            return Some(cut);
        }
    }
    blocks
        .windows(2)
        .rev()
        .find(|pair| {
            let ((_, before_is_list), (start, _)) = (pair[0], pair[1]);
            let line = tail[start..].lines().next().unwrap_or("");
            after_blank_line(tail, start) && !(before_is_list && may_become_an_item(line))
        })
        .map(|pair| pair[1].0)
        .filter(|&cut| cut > 0)
}

/// Whether the line before `at` (a line start) is blank.
fn after_blank_line(text: &str, at: usize) -> bool {
    let before = text[..at].strip_suffix('\n').unwrap_or(&text[..at]);
    before
        .rsplit('\n')
        .next()
        .is_some_and(|line| line.trim().is_empty())
        && at > 0
}

/// Whether a line after a list could still turn into one of its items
/// (text arrives a few characters at a time: "2" may become "2. …").
fn may_become_an_item(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '*' | '+')) || line.is_empty()
}

/// 64-bit FNV-1a, fed in pieces: the same hash as the pieces joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |newline| newline + 1)
}

/// The length of the longest common prefix of `a` and `b`, at a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let mut same = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    while !b.is_char_boundary(same) {
        same -= 1;
    }
    same
}

#[cfg(test)]
mod tests {
    use super::{LONG_TAIL, Patch, Streaming};
    use crate::render;

    /// What a reader ends with after `text` streamed in pieces of about
    /// `step` bytes (at character boundaries), every patch applied as the
    /// browser does.
    struct Streamed {
        html: String,
        /// Bytes of HTML sent.
        sent: usize,
        /// Whether the end had to correct the HTML.
        corrected: bool,
        /// The longest tail rendered again while streaming.
        largest_tail: usize,
    }

    fn stream(text: &str, step: usize) -> Streamed {
        stream_rendering_every(text, step, 1)
    }

    /// As [`stream`], rendered only after every `every` pieces (a reader
    /// that renders at most so often).
    fn stream_rendering_every(text: &str, step: usize, every: usize) -> Streamed {
        let mut streaming = Streaming::default();
        let (mut html, mut sent, mut largest_tail, mut start) = (String::new(), 0, 0, 0);
        let mut pieces = 0;
        while start < text.len() {
            let mut end = (start + step).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            streaming.append(&text[start..end]);
            pieces += 1;
            assert!(streaming.pending());
            if pieces % every == 0
                && let Some(patch) = streaming.update()
            {
                assert!(patch.apply(&mut html), "{patch:?} does not fit {html:?}");
                sent += patch.html.len();
            }
            largest_tail = largest_tail.max(streaming.text.len() - streaming.tail);
            start = end;
        }
        // What is still pending, then the end: a patch from `finish` is a
        // correction.
        if let Some(patch) = streaming.update() {
            assert!(patch.apply(&mut html));
            sent += patch.html.len();
        }
        let corrected = streaming.finish();
        if let Some(patch) = &corrected {
            assert!(patch.apply(&mut html));
            sent += patch.html.len();
        }
        Streamed {
            html,
            sent,
            corrected: corrected.is_some(),
            largest_tail,
        }
    }

    const ANSWER: &str = "정답: ③\n\n## 풀이\n\n글쓴이는 **세 번째** 문단에서 $x^2 + \\frac{1}{2}$ 를 말해요.\n\n\
        1. 첫째 문단\n2. 둘째 문단\n   - 세부 $a_1$\n\n| 선지 | 판단 |\n|---|---|\n| ① | 틀림 |\n\n\
        ```\ncode $not math$\n\n더 있는 코드\n```\n\n> 인용\n> 계속\n\n$$\\int_0^1 x\\,dx$$\n\n끝.";

    #[test]
    fn streamed_html_is_the_answer_rendered_whole() {
        for step in [1, 2, 3, 7, 40, ANSWER.len()] {
            let Streamed { html, corrected, .. } = stream(ANSWER, step);
            assert_eq!(html, render(ANSWER), "pieces of {step} bytes");
            // Settled blocks never change: the HTML was right before the end.
            assert!(
                !corrected,
                "pieces of {step} bytes needed a correction at the end"
            );
        }
    }

    /// Text appended between renders is all in the next patch, and the end
    /// renders whatever is still pending.
    #[test]
    fn rendering_every_few_pieces_ends_the_same() {
        for (step, every) in [(1, 2), (3, 5), (7, 3), (2, 40)] {
            let Streamed { html, corrected, .. } = stream_rendering_every(ANSWER, step, every);
            assert_eq!(
                html,
                render(ANSWER),
                "pieces of {step} bytes, rendered every {every}"
            );
            assert!(
                !corrected,
                "pieces of {step} bytes, rendered every {every}: corrected at the end"
            );
        }
    }

    #[test]
    fn patches_carry_what_changed_not_the_whole_answer_again() {
        let paragraph = "국어 지문의 논지를 한 문장씩 따라가 봐요. ".repeat(20);
        let answer = format!("정답: ②\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}");
        let Streamed { html, sent, .. } = stream(&answer, 6);
        assert_eq!(html, render(&answer));
        // Each patch repeats at most the closing tags and a partial character's neighbours.
        assert!(
            sent < answer.len() * 2,
            "sent {sent} bytes of HTML for {} bytes of text",
            answer.len()
        );
    }

    /// A list or a paragraph far longer than [`LONG_TAIL`]: its finished
    /// items or lines settle, and the end is still exact.
    #[test]
    fn long_blocks_settle_piece_by_piece_and_end_exact() {
        let items: String = (1..=60)
            .map(|i| format!("{i}. 선지 {i}번은 지문의 내용과 맞지 않아요: $x_{i}$\n"))
            .collect();
        let lines: String = (1..=80)
            .map(|i| format!("지문의 {i}번째 문장은 앞 문장을 이어받아 설명해요.\n"))
            .collect();
        let list = format!("정답: ④\n\n{items}\n마무리.");
        let paragraph = format!("정답: ①\n\n{lines}");
        for (answer, step) in [(list, 5), (paragraph, 7)] {
            assert!(answer.len() > 2 * LONG_TAIL);
            let streamed = stream(&answer, step);
            assert!(
                streamed.largest_tail <= LONG_TAIL + 200,
                "a tail of {} bytes was rendered again and again",
                streamed.largest_tail
            );
            assert_eq!(streamed.html, render(&answer));
        }
    }

    #[test]
    fn the_first_patch_is_everything_and_nothing_new_is_no_patch() {
        let mut streaming = Streaming::default();
        let first = streaming.push("정답: ① $x$").expect("the first patch");
        assert_eq!(
            first,
            Patch {
                at: 0,
                html: render("정답: ① $x$")
            }
        );
        assert_eq!(streaming.push(""), None);
        // An empty answer still gets its (empty) first patch: the reader replaces what it had.
        assert_eq!(
            Streaming::default().push(""),
            Some(Patch {
                at: 0,
                html: String::new()
            })
        );
    }

    #[test]
    fn the_end_renders_what_is_pending() {
        let mut streaming = Streaming::default();
        let mut html = String::new();
        let first = streaming.push("정답: ③\n\n첫 문단").expect("the first patch");
        assert!(first.apply(&mut html));
        streaming.append("의 끝.\n\n**둘째** 문단 $x^2$");
        assert!(streaming.pending());
        let last = streaming.finish().expect("the pending text");
        assert!(last.at > 0, "only what changed: {last:?}");
        assert!(last.apply(&mut html));
        assert_eq!(html, render("정답: ③\n\n첫 문단의 끝.\n\n**둘째** 문단 $x^2$"));
        assert!(!streaming.pending());
        assert_eq!(streaming.update(), None);
    }

    #[test]
    fn a_patch_that_does_not_fit_is_refused() {
        let mut html = String::from("<p>가</p>");
        assert!(
            !Patch {
                at: 100,
                html: "x".into()
            }
            .apply(&mut html)
        );
        assert!(
            !Patch {
                at: 4,
                html: "x".into()
            }
            .apply(&mut html)
        ); // inside 가
        assert_eq!(html, "<p>가</p>");
    }
}
