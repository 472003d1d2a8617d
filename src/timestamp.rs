//! Epoch seconds (possibly fractional, as DynamoDB sends them) to RFC 3339 UTC milliseconds.
//!
//! Exact decimal arithmetic, no floating point, no clock. This module performs no IO.

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch.
    pub unix_millis: i64,
}
