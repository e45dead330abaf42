//! Answers as HTML: Markdown (pulldown-cmark) with LaTeX math rendered to
//! MathML (pulldown-latex), the same code on the server (first paint, no
//! flicker, readable without JavaScript) and in the browser (while streaming).
//!
//! Model output is untrusted. Raw HTML in it is shown as text, never
//! interpreted; links keep only http(s), mailto and in-page targets; images
//! are reduced to their alt text. Every other tag comes from the renderers,
//! which escape text, so nothing in an answer can run.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd, html};
use pulldown_latex::{RenderConfig, Storage, config::DisplayMode};

/// Renders an answer (complete or partial) to safe HTML.
pub fn render(markdown: &str) -> String {
    let source = normalize_delimiters(markdown);
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_MATH;
    let events = Parser::new_ext(&source, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::InlineMath(tex) => Some(Event::InlineHtml(math(&tex, DisplayMode::Inline).into())),
        Event::DisplayMath(tex) => Some(Event::Html(
            format!(
                "<div class=\"math-display\">{}</div>",
                math(&tex, DisplayMode::Block)
            )
            .into(),
        )),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Some(Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        })),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn math(tex: &str, display_mode: DisplayMode) -> String {
    let storage = Storage::new();
    let parser = pulldown_latex::Parser::new(tex, &storage);
    let config = RenderConfig {
        display_mode,
        ..RenderConfig::default()
    };
    let mut out = String::new();
    match pulldown_latex::push_mathml(&mut out, parser, config) {
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

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:", "#", "/"]
        .iter()
        .any(|p| lower.starts_with(p));
    if allowed && !lower.starts_with("//") {
        url
    } else {
        CowStr::Borrowed("#")
    }
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
    use super::render;

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

    #[test]
    fn partial_answers_render() {
        // Mid-stream text can end anywhere: inside emphasis, a formula or a list.
        for cut in ["**굵", "$x^", "$$\\frac{1", "- 항", "| a | b |\n|--"] {
            let _ = render(cut);
        }
    }
}
