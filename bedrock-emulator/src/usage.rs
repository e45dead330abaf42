//! Token counts and the prompt cache, billed the way Bedrock reports them:
//! tokens read from the cache, tokens written to it, and the rest as plain
//! input.
//!
//! A prompt is a list of blocks (system blocks first, then every message's
//! content blocks); a cache point after a block asks for the prefix up to
//! there to be cached. A request reads the longest cached prefix that ends
//! at or before its last cache point, and writes every cache-point prefix
//! past that which is long enough for the model (`min_cache_tokens`).
//! Entries live five minutes from their last use, per model.

use std::{
    collections::HashMap,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Mutex,
    time::{Duration, Instant},
};

const TIME_TO_LIVE: Duration = Duration::from_secs(300);

/// Tokens the emulator counts for `text`: one per two characters (Korean
/// text is dense; an estimate, fixed so tests can predict it).
pub fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(2)
}

/// One block of a prompt.
#[derive(Clone, Debug)]
pub struct Block {
    pub tokens: u64,
    /// Identifies the block's content.
    pub key: u64,
    pub cache_point_after: bool,
    /// An image rather than text.
    pub image: bool,
}

impl Block {
    pub fn text(text: &str) -> Block {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        Block {
            tokens: tokens(text),
            key: hasher.finish(),
            cache_point_after: false,
            image: false,
        }
    }

    /// An image of `tokens`, identified by its (base64) bytes.
    pub fn image(tokens: u64, data: &str) -> Block {
        let mut hasher = DefaultHasher::new();
        data.hash(&mut hasher);
        Block {
            tokens,
            key: hasher.finish(),
            cache_point_after: false,
            image: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Billed {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

#[derive(Default)]
pub struct PromptCache {
    entries: Mutex<HashMap<u64, Instant>>,
}

impl PromptCache {
    pub fn bill(&self, model: &str, min_cache_tokens: u64, blocks: &[Block]) -> Billed {
        let total: u64 = blocks.iter().map(|b| b.tokens).sum();
        let Some(last_point) = blocks.iter().rposition(|b| b.cache_point_after) else {
            return Billed {
                input: total,
                ..Billed::default()
            };
        };
        // Prefix hashes and lengths after each block.
        let mut prefixes = Vec::with_capacity(blocks.len());
        let (mut hasher, mut length) = (DefaultHasher::new(), 0);
        model.hash(&mut hasher);
        for block in blocks {
            block.key.hash(&mut hasher);
            length += block.tokens;
            prefixes.push((hasher.finish(), length));
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap();
        entries.retain(|_, expires| *expires > now);
        let read_at = (0..=last_point)
            .rev()
            .find(|i| entries.contains_key(&prefixes[*i].0));
        let cache_read = read_at.map_or(0, |i| prefixes[i].1);
        if let Some(i) = read_at {
            entries.insert(prefixes[i].0, now + TIME_TO_LIVE);
        }
        let mut written_to = cache_read;
        for (i, block) in blocks.iter().enumerate().take(last_point + 1) {
            let (key, length) = prefixes[i];
            if block.cache_point_after && length >= min_cache_tokens && read_at.is_none_or(|r| i > r) {
                entries.insert(key, now + TIME_TO_LIVE);
                written_to = length;
            }
        }
        Billed {
            input: total - written_to,
            cache_read,
            cache_write: written_to - cache_read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(texts: &[(&str, bool)]) -> Vec<Block> {
        texts
            .iter()
            .map(|(text, point)| Block {
                cache_point_after: *point,
                ..Block::text(text)
            })
            .collect()
    }

    #[test]
    fn a_long_prefix_is_written_once_then_read() {
        let cache = PromptCache::default();
        let passage = "가".repeat(4_000); // 2,000 tokens
        let first = prompt(&[("system", true), (&passage, true)]);
        assert_eq!(
            cache.bill("m", 1024, &first),
            Billed {
                input: 0,
                cache_read: 0,
                cache_write: 2_003
            }
        );
        let second = prompt(&[
            ("system", false),
            (&passage, true),
            ("답변입니다", false),
            ("다음 질문", true),
        ]);
        let billed = cache.bill("m", 1024, &second);
        assert_eq!(billed.cache_read, 2_003);
        assert_eq!(billed.cache_write, 3 + 3);
        assert_eq!(billed.input, 0);
        // Another model has a cache of its own; short prefixes are not cached.
        assert_eq!(cache.bill("other", 1024, &second).cache_read, 0);
        let short = prompt(&[("짧은 질문", true)]);
        assert_eq!(cache.bill("m", 1024, &short).cache_write, 0);
        assert_eq!(cache.bill("m", 1024, &prompt(&[("a", false)])).input, 1);
    }
}
