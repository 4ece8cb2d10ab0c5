//! How values become columns and back: times, JSON documents, change hashes. Same for both backends.

use crate::error::{Result, StoreError};
use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// A time as stored: nanoseconds since 1970-01-01T00:00:00Z (exact round trip, sortable).
pub(crate) fn time_to_db(at: Timestamp) -> Result<i64> {
    i64::try_from(at.as_nanosecond()).map_err(|_| StoreError::Unstorable {
        what: format!("time {at}"),
        detail: "only times between 1677 and 2262 can be stored".into(),
    })
}

/// A stored time back.
pub(crate) fn time_from_db(nanos: i64, what: impl FnOnce() -> String) -> Result<Timestamp> {
    Timestamp::from_nanosecond(i128::from(nanos)).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: e.to_string(),
    })
}

/// A value as its JSON text (the canonical form: struct field order, maps sorted).
pub(crate) fn to_json(value: &impl Serialize, what: impl FnOnce() -> String) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Unstorable {
        what: what(),
        detail: e.to_string(),
    })
}

/// A stored JSON document back.
pub(crate) fn from_json<T: DeserializeOwned>(
    json: &str,
    what: impl FnOnce() -> String,
) -> Result<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: what(),
        detail: e.to_string(),
    })
}

/// SHA-256 of a text, as lower-case hex: detects whether an employee changed between reads.
pub(crate) fn hash_hex(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// A count or limit as a SQL integer.
pub(crate) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_exactly() {
        let at = Timestamp::from_nanosecond(1_700_000_000_123_456_789).unwrap();
        let stored = time_to_db(at).unwrap();
        assert_eq!(time_from_db(stored, String::new).unwrap(), at);
        assert!(time_to_db(Timestamp::MAX).is_err());
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
