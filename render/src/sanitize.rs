//! The last word on what reaches `innerHTML`: whatever the renderers wrote
//! is read back as tags and text and written out again, keeping only the
//! elements, attributes and values of [`allowed`]. Text is always escaped on
//! the way out, so no renderer's bug (a raw `<` in an error message, an
//! unexpected tag, a quote inside an attribute) can become markup.
//!
//! The reader is strict rather than forgiving: a tag is a `<`, a name, then
//! attributes written as `name="value"` or `name`, then `>` or `/>`. Anything
//! else that starts with `<` (a comment, a doctype, a malformed tag) is not
//! a tag at all and comes out as the text `&lt;…`. The renderers only write
//! that well-formed shape, so nothing they mean to show is lost; anything
//! they did not mean is shown as text.

use std::fmt::Write;

/// HTML elements that Markdown produces, sorted.
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
];

/// MathML Core presentation elements (what LaTeX becomes). Not
/// `annotation-xml`, whose `text/html` content browsers parse as HTML, nor
/// `mglyph`/`malignmark`, which change how HTML inside MathML is parsed.
/// Sorted.
const MATH_ELEMENTS: &[&str] = &[
    "annotation",
    "math",
    "menclose",
    "merror",
    "mfrac",
    "mi",
    "mmultiscripts",
    "mn",
    "mo",
    "mover",
    "mpadded",
    "mphantom",
    "mprescripts",
    "mroot",
    "mrow",
    "ms",
    "mspace",
    "msqrt",
    "mstyle",
    "msub",
    "msubsup",
    "msup",
    "mtable",
    "mtd",
    "mtext",
    "mtr",
    "munder",
    "munderover",
    "none",
    "semantics",
];

/// MathML attributes, whose values must be plain words, numbers and lengths.
const MATH_ATTRIBUTES: &[&str] = &[
    "accent",
    "accentunder",
    "columnalign",
    "columnlines",
    "columnspacing",
    "depth",
    "display",
    "displaystyle",
    "encoding",
    "fence",
    "form",
    "frame",
    "height",
    "largeop",
    "linethickness",
    "lspace",
    "mathvariant",
    "maxsize",
    "minsize",
    "movablelimits",
    "notation",
    "rowalign",
    "rowlines",
    "rowspacing",
    "rspace",
    "scriptlevel",
    "separator",
    "stretchy",
    "symmetric",
    "voffset",
    "width",
    "xmlns",
];

/// CSS properties the renderers set inline (table alignment, colours, spacing).
const STYLE_PROPERTIES: &[&str] = &[
    "background-color",
    "border",
    "border-color",
    "color",
    "height",
    "margin-left",
    "text-align",
];

/// Whether `element` may appear in rendered output.
pub fn allowed_element(element: &str) -> bool {
    // Both lists are sorted (a test says so): every tag of every render is
    // looked up here.
    HTML_ELEMENTS.binary_search(&element).is_ok() || MATH_ELEMENTS.binary_search(&element).is_ok()
}

/// The attribute as it may be written out (its value possibly replaced), or
/// `None` when it must be dropped. `value` is as written, entities and all.
pub fn allowed_attribute(element: &str, name: &str, value: &str) -> Option<String> {
    match name {
        "href" if element == "a" => Some(safe_url(value).unwrap_or("#").to_string()),
        "title" if element == "a" => Some(value.to_string()),
        "start" if element == "ol" => value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.to_string()),
        "class" => plain(value, |c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_')
        }),
        "style" => safe_style(value),
        _ if MATH_ELEMENTS.contains(&element) && MATH_ATTRIBUTES.contains(&name) => plain(value, |c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '+' | '%' | '/' | ':' | '_')
        }),
        _ => None,
    }
}

/// A link target that cannot run anything: http(s), mailto, a path on this
/// site or a fragment. `value` is as written in HTML; of character
/// references only those this module writes itself are read (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&#x27;`, `&#39;`), and any other refuses the
/// link, so no reference can hide a scheme or a second `/`.
pub fn safe_url(value: &str) -> Option<&str> {
    const KNOWN: [(&str, &str); 6] = [
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#x27;", "'"),
        ("&#39;", "'"),
        ("&amp;", "&"),
    ];
    if KNOWN
        .iter()
        .fold(value.to_string(), |s, (r, _)| s.replace(r, ""))
        .contains('&')
    {
        return None;
    }
    let decoded = KNOWN.iter().fold(value.to_string(), |s, (r, c)| s.replace(r, c));
    if decoded
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return None;
    }
    let lower = decoded.to_ascii_lowercase();
    let scheme_ok = ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| lower.starts_with(p));
    let local = (lower.starts_with('/') && !lower.starts_with("//")) || lower.starts_with('#');
    (scheme_ok || local).then_some(value)
}

fn plain(value: &str, ok: impl Fn(char) -> bool) -> Option<String> {
    value.chars().all(ok).then(|| value.to_string())
}

/// `prop: value; …` with known properties and values made of words, numbers,
/// `#` colours and `rgb(…)`; no `url(`, no escapes, no quotes.
fn safe_style(value: &str) -> Option<String> {
    let mut out = Vec::new();
    for declaration in value.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (property, val) = declaration.split_once(':')?;
        let (property, val) = (property.trim(), val.trim());
        let val_ok = !val.is_empty()
            && val.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '#' | '%' | '(' | ')' | ',' | '-')
            })
            && !val.to_ascii_lowercase().contains("url")
            && !val.to_ascii_lowercase().contains("expression");
        if !STYLE_PROPERTIES.contains(&property) || !val_ok {
            return None;
        }
        out.push(format!("{property}: {val}"));
    }
    (!out.is_empty()).then(|| out.join("; "))
}

/// Text as it may stand between tags: `<`, `>` and `"` escaped; `&` kept only
/// where it starts a well-formed character reference.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// [`escape_text`], appended to `out`.
fn escape_into(out: &mut String, text: &str) {
    let mut rest = text;
    // A byte scan: the four are ASCII, so where one is found is always a
    // character boundary (a `char` pattern would decode all the Korean).
    while let Some(i) = rest.bytes().position(|b| matches!(b, b'<' | b'>' | b'"' | b'&')) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        match tail.as_bytes()[0] {
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'"' => out.push_str("&quot;"),
            _ => match character_reference(tail) {
                Some(len) => {
                    out.push_str(&tail[..len]);
                    rest = &tail[len..];
                    continue;
                }
                None => out.push_str("&amp;"),
            },
        }
        rest = &tail[1..];
    }
    out.push_str(rest);
}

/// Length of a well-formed reference at the start of `s` (`&amp;`, `&#39;`,
/// `&#x27;`): decoded, it can only ever be text.
fn character_reference(s: &str) -> Option<usize> {
    let body = s.strip_prefix('&')?;
    let end = body.find(';')?;
    let name = &body[..end];
    let ok = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
        (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit())
    } else if let Some(dec) = name.strip_prefix('#') {
        (1..=7).contains(&dec.len()) && dec.bytes().all(|b| b.is_ascii_digit())
    } else {
        (1..=31).contains(&name.len())
            && name.as_bytes()[0].is_ascii_alphabetic()
            && name.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    ok.then_some(end + 2)
}

struct Tag<'a> {
    name: &'a str,
    closing: bool,
    self_closing: bool,
    attributes: Vec<(&'a str, Option<&'a str>)>,
    /// Bytes of input the tag took.
    len: usize,
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// Reads one tag at the start of `s` (which starts with `<`), strictly.
fn read_tag(s: &str) -> Option<Tag<'_>> {
    let bytes = s.as_bytes();
    let mut i = 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let start = i;
    if !bytes.get(i)?.is_ascii_alphabetic() {
        return None;
    }
    while bytes.get(i).is_some_and(|&b| is_name_char(b)) {
        i += 1;
    }
    let name = &s[start..i];
    let mut attributes = Vec::new();
    loop {
        let spaced = bytes.get(i).is_some_and(|b| b.is_ascii_whitespace());
        while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        match bytes.get(i)? {
            b'>' => {
                return Some(Tag {
                    name,
                    closing,
                    self_closing: false,
                    attributes,
                    len: i + 1,
                });
            }
            b'/' if bytes.get(i + 1) == Some(&b'>') && !closing => {
                return Some(Tag {
                    name,
                    closing,
                    self_closing: true,
                    attributes,
                    len: i + 2,
                });
            }
            b if b.is_ascii_alphabetic() && spaced && !closing => {
                let attr_start = i;
                while bytes.get(i).is_some_and(|&b| is_name_char(b) || b == b':') {
                    i += 1;
                }
                let attr = &s[attr_start..i];
                if bytes.get(i) == Some(&b'=') {
                    if bytes.get(i + 1) != Some(&b'"') {
                        return None;
                    }
                    let value_start = i + 2;
                    let value_len = s[value_start..].find(['"', '<'])?;
                    if bytes[value_start + value_len] != b'"' {
                        return None;
                    }
                    attributes.push((attr, Some(&s[value_start..value_start + value_len])));
                    i = value_start + value_len + 1;
                } else {
                    attributes.push((attr, None));
                }
            }
            _ => return None,
        }
    }
}

/// Writes `html` again, keeping only what [`allowed_element`] and
/// [`allowed_attribute`] allow; every other tag is dropped (its text stays,
/// escaped) and every stray `<` becomes `&lt;`.
pub fn sanitize(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        escape_into(&mut out, &rest[..i]);
        let tail = &rest[i..];
        match read_tag(tail) {
            Some(tag) => {
                let name = tag.name.to_ascii_lowercase();
                if allowed_element(&name) {
                    write_tag(&mut out, &name, &tag);
                }
                rest = &tail[tag.len..];
            }
            None => {
                out.push_str("&lt;");
                rest = &tail[1..];
            }
        }
    }
    escape_into(&mut out, rest);
    out
}

fn write_tag(out: &mut String, name: &str, tag: &Tag<'_>) {
    if tag.closing {
        let _ = write!(out, "</{name}>");
        return;
    }
    out.push('<');
    out.push_str(name);
    let mut seen: Vec<String> = Vec::new();
    for (attr, value) in &tag.attributes {
        let attr = attr.to_ascii_lowercase();
        if seen.contains(&attr) {
            continue;
        }
        if let Some(value) = allowed_attribute(name, &attr, value.unwrap_or_default()) {
            let _ = write!(out, " {attr}=\"{}\"", escape_text(&value));
            seen.push(attr);
        }
    }
    out.push_str(if tag.self_closing { "/>" } else { ">" });
}

#[cfg(test)]
mod tests {
    use super::{HTML_ELEMENTS, MATH_ELEMENTS, allowed_element, sanitize};

    #[test]
    fn element_lists_are_sorted_for_lookup() {
        for list in [HTML_ELEMENTS, MATH_ELEMENTS] {
            assert!(list.windows(2).all(|pair| pair[0] < pair[1]), "{list:?}");
            assert!(list.iter().all(|element| allowed_element(element)));
        }
        assert!(!allowed_element("script") && !allowed_element("annotation-xml") && !allowed_element("img"));
    }

    #[test]
    fn allowed_markup_passes_unchanged() {
        for html in [
            "<p>정답: <strong>③</strong> &amp; &lt;b&gt; &#39;x&#x27;</p>\n",
            "<a href=\"https://example.com/?a=1&amp;b=2\" title=\"t\">x</a>",
            "<table><thead><tr><th style=\"text-align: left\">a</th></tr></thead></table>",
            "<math display=\"block\"><mi mathvariant=\"normal\">x</mi><mspace width=\"0.2em\"/></math>",
            "<ol start=\"3\"><li>항목</li></ol><hr /><br />",
            "<mo style=\"color: rgb(255 0 0)\">+</mo>",
        ] {
            let expected = html.replace("<hr />", "<hr/>").replace("<br />", "<br/>");
            assert_eq!(sanitize(html), expected);
        }
    }

    #[test]
    fn everything_else_becomes_text_or_goes() {
        let cases = [
            (
                "<mtext>x <img src=x onerror=alert(1)> y</mtext>",
                "<mtext>x &lt;img src=x onerror=alert(1)&gt; y</mtext>",
            ),
            ("<script>alert(1)</script>", "alert(1)"),
            ("<a href=\"javascript:alert(1)\">x</a>", "<a href=\"#\">x</a>"),
            (
                "<a href=\"java&#x09;script:alert(1)\">x</a>",
                "<a href=\"#\">x</a>",
            ),
            ("<a href=\"//evil.example\">x</a>", "<a href=\"#\">x</a>"),
            ("<p onclick=\"alert(1)\">x</p>", "<p>x</p>"),
            (
                "<mi style=\"background: url(https://evil.example/)\">x</mi>",
                "<mi>x</mi>",
            ),
            (
                "<!-- c --><annotation-xml encoding=\"text/html\">",
                "&lt;!-- c --&gt;",
            ),
            ("<p title='x'>", "&lt;p title='x'&gt;"),
            ("a & b &bogus", "a &amp; b &amp;bogus"),
            ("<mglyph/><style>x</style>", "x"),
        ];
        for (input, expected) in cases {
            assert_eq!(sanitize(input), expected, "{input}");
        }
    }
}
