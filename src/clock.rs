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

/// The instant (on tokio's clock, which the handler's budget runs on) of a deadline given
/// as milliseconds since the epoch, as the Lambda runtime gives it.
///
/// Lambda never delivers an invocation whose deadline has passed, but local emulators
/// (`cargo lambda watch`) may send one in the past; such a deadline says nothing, and taking
/// it at its word would write nothing, so the longest Lambda timeout (15 minutes) stands in.
pub fn deadline_instant(deadline_unix_millis: u64) -> tokio::time::Instant {
    let (wall, monotonic) = (now(), tokio::time::Instant::now());
    if i64::try_from(deadline_unix_millis).unwrap_or(i64::MAX) <= wall.unix_millis {
        tracing::warn!(
            deadline_unix_millis,
            "the runtime's deadline has already passed (an emulator?); assuming Lambda's longest, 15 minutes"
        );
        return monotonic + LONGEST_INVOCATION;
    }
    instant_of(deadline_unix_millis, wall, monotonic)
}

/// Lambda's longest function timeout.
const LONGEST_INVOCATION: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// `deadline` on the monotonic clock, given the wall clock and the monotonic clock read
/// together: a deadline already passed is now.
fn instant_of(
    deadline_unix_millis: u64,
    wall: Timestamp,
    monotonic: tokio::time::Instant,
) -> tokio::time::Instant {
    let left = i64::try_from(deadline_unix_millis)
        .unwrap_or(i64::MAX)
        .saturating_sub(wall.unix_millis);
    monotonic + std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    // The time left is the deadline less the wall clock, counted from the monotonic now;
    // a deadline in the past is now, never a panic.
    #[tokio::test(start_paused = true)]
    async fn deadline_becomes_time_left_on_the_monotonic_clock() {
        let base = tokio::time::Instant::now();
        let wall = Timestamp {
            unix_millis: 1_795_746_760_000,
        };
        assert_eq!(
            instant_of(1_795_746_763_500, wall, base),
            base + Duration::from_millis(3_500)
        );
        assert_eq!(instant_of(1_795_746_700_000, wall, base), base);
        assert_eq!(instant_of(0, wall, base), base);
    }
}
