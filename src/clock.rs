//! The wall clock, read only by the binaries: everything else takes the time as a parameter.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Timestamp;

/// Now, to the millisecond (the epoch itself if the system clock is before it).
pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        });
    Timestamp {
        unix_millis: millis,
    }
}
