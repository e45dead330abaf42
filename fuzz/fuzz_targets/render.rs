//! Renders arbitrary text as an answer, and separately sanitizes it as if a
//! renderer had written it, then parses each output the way a browser's
//! `innerHTML` does (html5ever, a `<div>` as context) and fails on any
//! element, attribute, URL or node outside the allow-list. The same text
//! also streams in pieces through `render::stream`, and the HTML a reader
//! assembles from its patches must hold to the same list.
#![no_main]

use html5ever::{ParseOpts, QualName, local_name, ns, parse_fragment, tendril::TendrilSink};
use libfuzzer_sys::fuzz_target;
use markup5ever_rcdom::{Handle, NodeData, RcDom};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text, &render::render(&text));
    check(&text, &render::sanitize(&text));
    check(&text, &streamed(&text, data.first().map_or(1, |b| usize::from(b % 16) + 1)));
});

/// `text` streamed in pieces of about `step` bytes: the HTML a reader ends
/// with before the end's correction (what it showed while streaming).
fn streamed(text: &str, step: usize) -> String {
    let mut streaming = render::stream::Streaming::default();
    let mut html = String::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + step).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if let Some(patch) = streaming.push(&text[start..end]) {
            assert!(patch.apply(&mut html), "a patch that does not fit\ninput: {text:?}");
        }
        start = end;
    }
    let shown = html.clone();
    if let Some(patch) = streaming.finish() {
        assert!(patch.apply(&mut html));
    }
    assert_eq!(html, render::render(text), "the end is the answer rendered whole\ninput: {text:?}");
    shown
}

fn check(input: &str, html: &str) {
    let dom = parse_fragment(
        RcDom::default(),
        ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        Vec::new(),
        false,
    )
    .one(html);
    // The fragment's nodes hang under a synthetic <html> element.
    for root in dom.document.children.borrow().iter() {
        for node in root.children.borrow().iter() {
            walk(input, html, node);
        }
    }
}

fn walk(input: &str, html: &str, node: &Handle) {
    match &node.data {
        NodeData::Text { .. } => {}
        NodeData::Element { name, attrs, .. } => {
            let in_namespace = name.ns == ns!(html) || name.ns == ns!(mathml);
            assert!(
                in_namespace && render::allowed_element(&name.local),
                "element {:?} {} outside the allow-list\ninput: {input:?}\noutput: {html}",
                name.ns,
                name.local
            );
            for attr in attrs.borrow().iter() {
                let value = attr.value.to_string();
                let written = escape(&value);
                let allowed = render::allowed_attribute(&name.local, &attr.name.local, &written);
                assert!(
                    attr.name.ns == ns!() && allowed.as_deref() == Some(written.as_str()),
                    "attribute {}={value:?} on {} outside the allow-list\ninput: {input:?}\noutput: {html}",
                    attr.name.local,
                    name.local
                );
                if &*attr.name.local == "href" {
                    assert!(safe_scheme(&value), "link to {value:?}\ninput: {input:?}\noutput: {html}");
                }
            }
        }
        other => panic!("unexpected node {other:?}\ninput: {input:?}\noutput: {html}"),
    }
    for child in node.children.borrow().iter() {
        walk(input, html, child);
    }
}

/// The attribute value as the allow-list reads it (as written in HTML).
fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What a browser would follow, judged independently of the renderer.
fn safe_scheme(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    if lower.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return false;
    }
    ["http://", "https://", "mailto:", "#"].iter().any(|p| lower.starts_with(p))
        || (lower.starts_with('/') && !lower.starts_with("//"))
}
