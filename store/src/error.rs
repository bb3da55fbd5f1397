//! The one error type of the store.

/// Why a shard operation was refused.
///
/// The `Display` text of each variant is the exact error reply Redis 7 sends
/// for the same condition, prefix included, so the command layer can write it
/// to the client as `-{error}` without a lookup table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The key holds a value of another type than the command works on.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// The stored value (or argument) is not a canonical 64-bit integer.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An integer increment would leave the `i64` range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// The stored value is not a parsable, finite float.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// A float increment would produce NaN or an infinity.
    #[error("ERR increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// The result would be longer than `ShardConfig::max_value_len`.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    TooLarge,
    /// HINCRBY on a field whose value is not an integer.
    #[error("ERR hash value is not an integer")]
    HashNotInteger,
    /// HINCRBYFLOAT on a field whose value is not a float.
    #[error("ERR hash value is not a float")]
    HashNotFloat,
    /// A sorted-set score update would produce NaN (`+inf` plus `-inf`).
    #[error("ERR resulting score is not a number (NaN)")]
    ScoreNan,
    /// LSET / LINDEX-style index past either end of a list.
    #[error("ERR index out of range")]
    IndexOutOfRange,
    /// SORT without ALPHA met an element (or weight) that is not a number.
    #[error("ERR One or more scores can't be converted into double")]
    SortNotDouble,
    /// SORT would return more than `MAX_SORT_OUTPUT` values.
    #[error(
        "ERR SORT would return more than 16777216 values (elements times GET patterns); use LIMIT"
    )]
    SortTooLarge,
    /// A geo search would collect more than `MAX_GEO_RESULTS` points.
    #[error(
        "ERR GEO search would return more than 16777216 members; use COUNT ANY or a smaller area"
    )]
    GeoTooLarge,
    /// The source key of a RENAME does not exist.
    #[error("ERR no such key")]
    NoSuchKey,
    /// A HyperLogLog command met a string that is not one.
    #[error("WRONGTYPE Key is not a valid HyperLogLog string value.")]
    NotHll,
    /// A HyperLogLog whose registers do not decode.
    #[error("INVALIDOBJ Corrupted HLL object detected")]
    CorruptHll,
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn display_matches_redis_replies() {
        assert_eq!(
            StoreError::WrongType.to_string(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        assert_eq!(
            StoreError::NotInteger.to_string(),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            StoreError::Overflow.to_string(),
            "ERR increment or decrement would overflow"
        );
        assert_eq!(
            StoreError::NotFloat.to_string(),
            "ERR value is not a valid float"
        );
        assert_eq!(
            StoreError::NanOrInfinity.to_string(),
            "ERR increment would produce NaN or Infinity"
        );
        assert_eq!(
            StoreError::TooLarge.to_string(),
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        );
        assert_eq!(StoreError::NoSuchKey.to_string(), "ERR no such key");
    }
}
