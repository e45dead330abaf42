//! What answers cost and how much may be spent: the price table that turns
//! an answer's token usage into dollars, the per-student daily limits and
//! the global daily budget. Days are Korea's (UTC+9): limits reset at
//! midnight there, when students start a new day.
//!
//! The budget is kept race-free by reservation: a new answer reserves the
//! most it can cost (its prompt at the input price plus `max_tokens` at the
//! output price) in the same conditional statement that checks the budget,
//! and its real cost replaces the reservation when it ends. So the day's
//! spending never passes the budget, and an answer that was let in is never
//! cut for money.

use time::{Date, OffsetDateTime, Time, UtcOffset};

use crate::model::Usage;

/// When the default prices were read from Anthropic's public price list
/// (platform.claude.com, "Pricing"); Bedrock's list prices for Claude on
/// global inference profiles are the same.
pub const PRICES_TAKEN: &str = "2026-11-27";

/// US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Writing the prompt cache (5-minute entries).
    pub cache_write: f64,
    pub cache_read: f64,
}

const fn price(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price {
        input,
        output,
        cache_write,
        cache_read,
    }
}

/// List prices by model, matched as a part of the configured model id (so
/// one entry covers the base id and every inference profile of it).
const DEFAULT_PRICES: &[(&str, Price)] = &[
    ("claude-opus-4-7", price(5.0, 25.0, 6.25, 0.50)),
    ("claude-opus-4-6", price(5.0, 25.0, 6.25, 0.50)),
    ("claude-sonnet-5", price(2.0, 10.0, 2.50, 0.20)),
    ("claude-sonnet-4-6", price(3.0, 15.0, 3.75, 0.30)),
    ("claude-sonnet-4-5", price(3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4-5", price(1.0, 5.0, 1.25, 0.10)),
];

#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    entries: Vec<(String, Price)>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            entries: DEFAULT_PRICES.iter().map(|(k, p)| (k.to_string(), *p)).collect(),
        }
    }
}

impl PriceTable {
    /// The defaults, with `WEASEL_MODEL_PRICES` entries added or replacing
    /// them: `model=input/output/cache_write/cache_read;…` in USD per
    /// million tokens, e.g. `claude-sonnet-4-6=3.3/16.5/4.125/0.33` for a
    /// regional profile's price.
    pub fn with_overrides(raw: Option<&str>) -> Result<PriceTable, String> {
        let mut table = PriceTable::default();
        for entry in raw
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (model, numbers) = entry
                .split_once('=')
                .ok_or_else(|| format!("'{entry}' is not model=input/output/cache_write/cache_read"))?;
            let numbers: Vec<f64> = numbers
                .split('/')
                .map(|n| {
                    n.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite() && *n >= 0.0)
                })
                .collect::<Option<_>>()
                .filter(|n: &Vec<f64>| n.len() == 4)
                .ok_or_else(|| format!("'{entry}': four prices in USD per million tokens, separated by /"))?;
            let model = model.trim().to_string();
            table.entries.retain(|(key, _)| *key != model);
            table
                .entries
                .push((model, price(numbers[0], numbers[1], numbers[2], numbers[3])));
        }
        Ok(table)
    }

    /// The price of `model_id`: the longest entry that is part of it.
    pub fn price(&self, model_id: &str) -> Option<Price> {
        self.entries
            .iter()
            .filter(|(key, _)| model_id.contains(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, price)| *price)
    }

    /// The most expensive price in the table (for a model it does not know).
    fn dearest(&self) -> Price {
        self.entries
            .iter()
            .map(|(_, p)| *p)
            .fold(price(0.0, 0.0, 0.0, 0.0), |a, b| {
                price(
                    a.input.max(b.input),
                    a.output.max(b.output),
                    a.cache_write.max(b.cache_write),
                    a.cache_read.max(b.cache_read),
                )
            })
    }

    /// What `usage` of `model_id` costs, in millionths of a dollar. A model
    /// missing from the table is priced at the dearest rates (and the
    /// startup check warns about it), so a budget is never under-counted.
    pub fn cost_micros(&self, model_id: &str, usage: &Usage) -> i64 {
        let price = self.price(model_id).unwrap_or_else(|| self.dearest());
        // USD per million tokens × tokens = micro-dollars.
        let micros = price.input * usage.input_tokens as f64
            + price.output * usage.output_tokens as f64
            + price.cache_write * usage.cache_write_tokens as f64
            + price.cache_read * usage.cache_read_tokens as f64;
        micros.ceil() as i64
    }

    /// The most an answer can cost: its whole prompt uncached and
    /// `max_tokens` of output.
    pub fn ceiling_micros(&self, model_id: &str, prompt_tokens: i64, max_tokens: i64) -> i64 {
        let price = self.price(model_id).unwrap_or_else(|| self.dearest());
        let worst = price.input.max(price.cache_write);
        (worst * prompt_tokens as f64 + price.output * max_tokens as f64).ceil() as i64
    }
}

/// Prompt tokens estimated from text before the model counts them: about
/// one token per two characters of Korean, generous for English.
pub fn estimate_tokens(text_chars: usize) -> i64 {
    (text_chars as i64 + 1) / 2
}

/// Daily limits; 0 means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DailyLimits {
    /// Answers a student may start per day.
    pub answers_per_student: i64,
    /// Tokens (input, output and cache) a student's finished answers may use per day.
    pub tokens_per_student: i64,
    /// Dollars (in millionths) all answers together may cost per day.
    pub budget_micros: i64,
}

/// Korea Standard Time, the accounting day's zone.
const KST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The accounting day of `now` (`YYYY-MM-DD` in Korea).
pub fn day_of(now: OffsetDateTime) -> String {
    let date = now.to_offset(KST).date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// When the day after `now`'s begins (midnight in Korea), as a UTC instant.
pub fn next_day(now: OffsetDateTime) -> OffsetDateTime {
    let today: Date = now.to_offset(KST).date();
    let tomorrow = today.next_day().unwrap_or(today);
    tomorrow
        .with_time(Time::MIDNIGHT)
        .assume_offset(KST)
        .to_offset(UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    #[test]
    fn prices_match_profiles_and_overrides_replace_them() {
        let table = PriceTable::default();
        assert_eq!(
            table.price("global.anthropic.claude-sonnet-4-6").unwrap().input,
            3.0
        );
        assert_eq!(
            table
                .price("apac.anthropic.claude-haiku-4-5-20251001-v1:0")
                .unwrap()
                .output,
            5.0
        );
        assert!(table.price("anthropic.claude-3-haiku-20240307-v1:0").is_none());
        let table =
            PriceTable::with_overrides(Some("claude-sonnet-4-6=3.3/16.5/4.125/0.33; my-model=1/2/3/4"))
                .unwrap();
        assert_eq!(
            table.price("us.anthropic.claude-sonnet-4-6").unwrap().output,
            16.5
        );
        assert_eq!(table.price("my-model").unwrap().cache_read, 4.0);
        assert!(PriceTable::with_overrides(Some("x=1/2/3")).is_err());
        assert!(PriceTable::with_overrides(Some("x=1/2/3/-4")).is_err());
        assert!(PriceTable::with_overrides(Some("nonsense")).is_err());
    }

    #[test]
    fn cost_is_every_kind_of_token_at_its_price() {
        let table = PriceTable::default();
        let usage = Usage {
            input_tokens: 1_000,
            output_tokens: 2_000,
            cache_read_tokens: 10_000,
            cache_write_tokens: 4_000,
        };
        // 1,000 × 3 + 2,000 × 15 + 10,000 × 0.30 + 4,000 × 3.75 micro-dollars.
        assert_eq!(
            table.cost_micros("global.anthropic.claude-sonnet-4-6", &usage),
            3_000 + 30_000 + 3_000 + 15_000
        );
        // Unknown models count at the dearest rates, never as free.
        assert!(table.cost_micros("someone.elses-model", &usage) > 51_000);
        assert_eq!(
            table.ceiling_micros("global.anthropic.claude-haiku-4-5", 1_000, 100),
            1_250 + 500
        );
    }

    #[test]
    fn the_day_turns_at_midnight_in_korea() {
        // 2026-11-27 14:59:59 UTC is 23:59:59 in Seoul; a second later it is the 28th.
        assert_eq!(day_of(at(1795791599)), "2026-11-27");
        assert_eq!(day_of(at(1795791600)), "2026-11-28");
        // From 2026-11-27 03:00 UTC the next day starts at 15:00 UTC.
        assert_eq!(next_day(at(1795748400)), at(1795791600));
        assert_eq!(next_day(at(1795791600)), at(1795878000));
    }
}
