//! How data the server sends is read in the browser: always JSON, always by
//! one reader.
//!
//! Server functions' replies are decoded from bytes (`serde_json::from_slice`).
//! Leptos' default resource codec decodes its hydration data from a `&str`
//! (`from_str`), a second copy of the whole JSON reader for every type that
//! both ways carry (the user, the conversation list, `AppError`): about 4 %
//! of the wasm's code. [`Json`] reads hydration data from bytes too, and
//! [`resource`] is how every page makes a resource with it.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// JSON written with `serde_json`, read back from bytes.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(value: &T) -> Result<String, serde_json::Error> {
        serde_json::to_string(value)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(encoded: &str) -> Result<T, serde_json::Error> {
        from_json(encoded)
    }
}

/// A resource whose value comes with the page as [`Json`].
pub type JsonResource<T> = Resource<T, Json>;

/// `Resource::new`, with the [`Json`] codec.
#[track_caller]
pub fn resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> JsonResource<T>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// Reads JSON text the way server functions' replies are read (see the module).
pub fn from_json<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, serde_json::Error> {
    serde_json::from_slice(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_encoded_decodes_to_the_same_value() {
        let value: Result<Option<Vec<(i64, String)>>, String> =
            Ok(Some(vec![(7, "이차방정식 \"근\" \\ 🎉".into())]));
        let encoded = <Json as Encoder<_>>::encode(&value).unwrap();
        let decoded: Result<Option<Vec<(i64, String)>>, String> =
            <Json as Decoder<_>>::decode(&encoded).unwrap();
        assert_eq!(decoded, value);
        assert!(from_json::<u8>("{\"not\": 1}").is_err());
    }
}
