//! Korean and English. The language comes from the `weasel_lang` cookie (set
//! by the switch in the header), else the browser's `Accept-Language`; the
//! server renders `<html lang>` with it and the browser reads it back from
//! there, so both sides always agree.

use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

pub const LANG_COOKIE: &str = "weasel_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().get(..2)?.to_ascii_lowercase().as_str() {
            "ko" => Some(Lang::Ko),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the text for this language.
    pub fn t(self, ko: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ko => ko,
            Lang::En => en,
        }
    }

    /// From a `Cookie` header and an `Accept-Language` header.
    pub fn negotiate(cookie: Option<&str>, accept_language: Option<&str>) -> Lang {
        let from_cookie = cookie
            .and_then(|cookies| crate::cookie(cookies, LANG_COOKIE))
            .and_then(Lang::from_code);
        from_cookie
            .or_else(|| {
                // The first supported language in the browser's order of preference.
                accept_language?
                    .split(',')
                    .find_map(|item| Lang::from_code(item.split(';').next()?))
            })
            .unwrap_or_default()
    }
}

/// The language of the current request (server) or page (browser).
pub fn current_lang() -> Lang {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .map(|parts| {
                let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
                Lang::negotiate(
                    header(http::header::COOKIE),
                    header(http::header::ACCEPT_LANGUAGE),
                )
            })
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    {
        document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|code| Lang::from_code(&code))
            .unwrap_or_default()
    }
}

/// The language provided by [`crate::App`].
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// A calendar date such as `2026.11.26`, in Korea time (UTC+9, no daylight
/// saving) for everyone: the server and the browser must render the same
/// text, and the students sit a Korean exam.
pub fn date_label(unix_millis: i64) -> String {
    const KST_MILLIS: i64 = 9 * 3600 * 1000;
    let days = (unix_millis + KST_MILLIS).div_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year}.{month:02}.{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_korea_time() {
        assert_eq!(date_label(0), "1970.01.01");
        // 2026-11-26 14:59 UTC is 23:59 in Seoul; a minute later it is the 27th there.
        assert_eq!(date_label(1_795_705_140_000), "2026.11.26");
        assert_eq!(date_label(1_795_705_140_000 + 60_000), "2026.11.27");
        assert_eq!(date_label(951_782_400_000), "2000.02.29");
    }

    #[test]
    fn cookie_wins_over_the_browser() {
        assert_eq!(
            Lang::negotiate(Some("a=b; weasel_lang=en"), Some("ko-KR,ko;q=0.9")),
            Lang::En
        );
    }

    #[test]
    fn browser_preference_in_order() {
        assert_eq!(Lang::negotiate(None, Some("en-US,en;q=0.9,ko;q=0.8")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("fr-FR, ko;q=0.5, en;q=0.4")), Lang::Ko);
        assert_eq!(Lang::negotiate(None, Some("fr-FR")), Lang::Ko);
        assert_eq!(Lang::negotiate(Some("weasel_lang=xx"), None), Lang::Ko);
    }
}
