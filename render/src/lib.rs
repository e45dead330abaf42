//! Answers as HTML: Markdown (pulldown-cmark) with LaTeX math rendered to
//! MathML (pulldown-latex), the same code on the server (first paint, no
//! flicker, readable without JavaScript) and in the browser (while streaming).
//!
//! Model output is untrusted. Raw HTML in it is shown as text, never
//! interpreted; links keep only http(s), mailto and in-page targets; images
//! are reduced to their alt text. And because a renderer can have bugs of its
//! own (pulldown-latex once wrote the source around a parse error into its
//! MathML unescaped), its output is not trusted either: [`sanitize`] reads
//! it back and writes out only allow-listed elements, attributes and values,
//! with all text escaped. The fuzz target in `fuzz/` checks that promise
//! with a real HTML parser.

mod sanitize;
pub mod stream;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};
use pulldown_latex::{RenderConfig, Storage, config::DisplayMode};

pub use sanitize::{allowed_attribute, allowed_element, safe_url as allowed_url, sanitize};

/// The Markdown an answer may use.
const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_MATH);

/// Renders an answer (complete or partial) to safe HTML.
pub fn render(markdown: &str) -> String {
    mark_final_answer(fragment(markdown))
}

/// Renders Markdown to safe HTML: a whole answer, or some of its top-level
/// blocks (see [`stream`]).
fn fragment(markdown: &str) -> String {
    let source = normalize_delimiters(markdown);
    let events = Parser::new_ext(&source, OPTIONS).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::InlineMath(tex) => Some(Event::InlineHtml(math(&tex, DisplayMode::Inline).into())),
        Event::DisplayMath(tex) => Some(Event::Html(
            format!(
                "<div class=\"math-display\">{}</div>",
                math(&tex, DisplayMode::Block)
            )
            .into(),
        )),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    // A heading with nothing in it (mid-stream, the text ends at "## ") is
    // left out: an empty heading is noise to a screen reader.
    let mut kept: Vec<Event> = Vec::new();
    for event in events {
        if matches!(event, Event::End(TagEnd::Heading(_)))
            && matches!(kept.last(), Some(Event::Start(Tag::Heading { .. })))
        {
            kept.pop();
            continue;
        }
        kept.push(event);
    }
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, kept.into_iter());
    sanitize(&out)
}

/// The answer's first line, "정답: …" (or "Answer: …"), is the anchor of the
/// page: it gets a class of its own (added to sanitized output, so the
/// model's text cannot choose it).
fn mark_final_answer(html: String) -> String {
    let first = ["<p>정답", "<p><strong>정답", "<p>Answer:", "<p><strong>Answer:"];
    if first.iter().any(|start| html.starts_with(start)) {
        format!("<p class=\"final-answer\">{}", &html[3..])
    } else {
        html
    }
}

/// A student's text (a question, a title) as safe HTML: everything stays
/// plain text except LaTeX between `$…$`, `$$…$$`, `\(…\)` or `\[…\]`,
/// which becomes MathML. Unlike [`render`], no Markdown is read: a
/// question's `*` or `#` are the student's own characters. A `$` that does
/// not open a formula (a price: "$5 and $10") stays a dollar sign.
pub fn text_with_math(text: &str) -> String {
    let source = normalize_delimiters(text);
    let mut out = String::with_capacity(source.len() * 2);
    let mut rest = source.as_str();
    while let Some(start) = rest.find('$') {
        out.push_str(&escape(&rest[..start]));
        let after = &rest[start..];
        let (delimiter, mode) = if after.starts_with("$$") {
            ("$$", DisplayMode::Block)
        } else {
            ("$", DisplayMode::Inline)
        };
        let body_start = delimiter.len();
        let closing = after[body_start..].find(delimiter).map(|i| i + body_start);
        let formula = closing.map(|end| &after[body_start..end]).filter(|tex| {
            !tex.trim().is_empty() && !tex.starts_with(' ') && !tex.ends_with(' ') && !tex.contains("\n\n")
        });
        match (formula, closing) {
            (Some(tex), Some(end)) => {
                out.push_str(&math(tex, mode));
                rest = &after[end + delimiter.len()..];
            }
            _ => {
                out.push_str(&escape(delimiter));
                rest = &after[delimiter.len()..];
            }
        }
    }
    out.push_str(&escape(rest));
    sanitize(&out)
}

fn math(tex: &str, display_mode: DisplayMode) -> String {
    let storage = Storage::new();
    // A formula that does not parse is shown as its source, like code: the
    // library's own error rendering is an English message around raw source.
    let events: Vec<_> = pulldown_latex::Parser::new(tex, &storage).collect();
    if events.iter().any(Result::is_err) {
        return format!("<code>{}</code>", escape(tex));
    }
    let config = RenderConfig {
        display_mode,
        ..RenderConfig::default()
    };
    let mut out = String::new();
    match pulldown_latex::push_mathml(&mut out, events.into_iter(), config) {
        Ok(()) => out,
        Err(_) => format!("<code>{}</code>", escape(tex)),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `\( … \)` and `\[ … \]` become `$ … $` and `$$ … $$`, outside code
/// blocks, so that every delimiter the model uses is understood.
fn normalize_delimiters(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence || !line.contains('\\') {
            out.push_str(line);
        } else {
            out.push_str(
                &line
                    .replace("\\(", "$")
                    .replace("\\)", "$")
                    .replace("\\[", "$$")
                    .replace("\\]", "$$"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{render, text_with_math};

    #[test]
    fn student_text_shows_math_and_keeps_everything_else_plain() {
        let html = text_with_math("함수 $f(x)=x^2$ 의 *최댓값* <b>은?</b>");
        assert!(html.contains("<math"), "{html}");
        assert!(!html.contains('$'), "{html}");
        assert!(html.contains("*최댓값*"), "{html}");
        assert!(html.contains("&lt;b&gt;"), "{html}");
        let prices = text_with_math("사과는 $5 이고 배는 $10 이에요");
        assert!(!prices.contains("<math"), "{prices}");
        assert_eq!(prices.matches('$').count(), 2, "{prices}");
        assert!(text_with_math("\\(\\frac{1}{2}\\)").contains("<mfrac"));
    }

    #[test]
    fn the_final_answer_line_is_marked() {
        assert!(render("정답: ③\n\n풀이").starts_with("<p class=\"final-answer\">정답: ③</p>"));
        assert!(!render("풀이부터\n\n정답: ③").contains("final-answer"));
    }

    #[test]
    fn markdown_and_math() {
        let html = render("정답: ③\n\n**굵게** 그리고 $x^2$\n\n$$\\frac{1}{2}$$\n\n- 항목");
        assert!(html.contains("<strong>굵게</strong>"), "{html}");
        assert!(html.contains("<math") && html.contains("<mfrac"), "{html}");
        assert!(html.contains("class=\"math-display\""), "{html}");
        assert!(html.contains("<li>항목</li>"));
    }

    #[test]
    fn other_delimiters_are_math_too() {
        assert!(render("조건 \\(a > 0\\) 을 보면").contains("<math"));
        assert!(render("\\[\\int_0^1 x\\,dx\\]").contains("math-display"));
        assert!(!render("```\n\\(not math\\)\n```").contains("<math"));
    }

    #[test]
    fn prices_stay_text() {
        let html = render("가격은 $5 와 $10 이에요.");
        assert!(!html.contains("<math"), "{html}");
        assert!(html.contains("$5 와 $10"), "{html}");
    }

    #[test]
    fn nothing_in_an_answer_can_run() {
        let html = render(
            "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> [a](javascript:alert(1)) ![t](http://x/y.png) $\\text{<b>}$",
        );
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    /// A formula that fails to parse: pulldown-latex writes the source around
    /// the error into `<mtext>` unescaped, and browsers parse `<mtext>`'s
    /// content as HTML (the outside assessment's stored XSS).
    #[test]
    fn a_broken_formula_cannot_carry_markup() {
        for question in [
            "$\\frac{<img src=x onerror=alert(1)>$",
            "$x^^<img src=x onerror=alert(1)>$",
            "$$\\begin{foo}<svg onload=alert(1)>$$",
            "$\\color{<script>alert(1)</script>}x$",
        ] {
            let html = render(question);
            assert!(
                !html.contains("<img") && !html.contains("<svg") && !html.contains("<script"),
                "{question} -> {html}"
            );
        }
    }

    #[test]
    fn partial_answers_render() {
        // Mid-stream text can end anywhere: inside emphasis, a formula or a list.
        for cut in ["**굵", "$x^", "$$\\frac{1", "- 항", "| a | b |\n|--"] {
            let _ = render(cut);
        }
        // A heading whose words have not arrived yet is not an empty heading.
        assert_eq!(
            render("정답: ③\n\n## "),
            "<p class=\"final-answer\">정답: ③</p>\n"
        );
        assert_eq!(render("## 풀이"), "<h2>풀이</h2>\n");
    }
}
