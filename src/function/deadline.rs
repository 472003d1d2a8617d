//! The invocation's time budget: when to stop starting S3 calls, and when to stop waiting
//! for one.
//!
//! Lambda ends an invocation that runs past its deadline as a failure of the whole batch,
//! which is retried (and, in record mode, bisected); a partial batch response that reports
//! the unfinished records costs only their re-delivery. So the writer starts a call only
//! while at least one call's worth of time (the S3 operation timeout, all retries included)
//! is left before the cutoff, a short reserve before the deadline for answering; and a call
//! still in flight at the cutoff is abandoned, its records reported like any failed write.
//!
//! The clock is tokio's, so tests pause and drive it. The decision itself
//! ([`Budget::may_start`]) is a pure function of the time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Time kept back from the deadline for the answer itself: building the partial batch
/// response, the metrics line and the post to the runtime API take microseconds to a few
/// milliseconds; half a second is room for a stalled scheduler.
pub const ANSWER_RESERVE: Duration = Duration::from_millis(500);

/// Why a call was not made or not waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OutOfTime {
    /// Less than one call's worth of time was left, so it was never started.
    #[error("not started: less than {margin:?} left before the invocation's deadline")]
    NotStarted { margin: Duration },
    /// It was still in flight at the cutoff and was abandoned: it may or may not have
    /// happened.
    #[error("abandoned at the invocation's cutoff ({reserve:?} before its deadline)")]
    Abandoned { reserve: Duration },
}

/// One invocation's budget for S3 calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// When to stop waiting: the deadline less [`ANSWER_RESERVE`]. `None`: no deadline
    /// (the command line's `recover`).
    cutoff: Option<Instant>,
    /// How much time before the cutoff a call needs to start.
    margin: Duration,
}

impl Budget {
    /// No deadline: every call starts and is waited for (the SDK's timeouts still apply).
    pub fn unlimited() -> Self {
        Self {
            cutoff: None,
            margin: Duration::ZERO,
        }
    }

    /// A budget ending at `deadline`, where one call needs `margin` (the S3 operation
    /// timeout).
    pub fn until(deadline: Instant, margin: Duration) -> Self {
        // A deadline already within the reserve (or a clock near its origin) cuts at once.
        let cutoff = deadline.checked_sub(ANSWER_RESERVE).unwrap_or(deadline);
        Self {
            cutoff: Some(cutoff),
            margin,
        }
    }

    /// Whether a call may start at `now`: there is no deadline, or at least the margin is
    /// left before the cutoff.
    pub fn may_start(&self, now: Instant) -> bool {
        self.cutoff
            .is_none_or(|cutoff| cutoff.saturating_duration_since(now) >= self.margin)
    }

    /// Whether the whole budget, from `now`, is too short for even one call: a function
    /// timeout shorter than the S3 operation timeout writes nothing, ever.
    pub fn too_short_for_any_call(&self, now: Instant) -> bool {
        !self.may_start(now)
    }

    /// Runs `call` if it may start now, and waits for it until the cutoff at most.
    pub async fn run<F: Future>(&self, call: F) -> Result<F::Output, OutOfTime> {
        if !self.may_start(Instant::now()) {
            return Err(OutOfTime::NotStarted {
                margin: self.margin,
            });
        }
        match self.cutoff {
            None => Ok(call.await),
            Some(cutoff) => {
                tokio::time::timeout_at(cutoff, call)
                    .await
                    .map_err(|_| OutOfTime::Abandoned {
                        reserve: ANSWER_RESERVE,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGIN: Duration = Duration::from_secs(10);

    // A call starts while at least the margin is left before the cutoff, and not after.
    #[tokio::test(start_paused = true)]
    async fn a_call_starts_only_with_a_margin_left_before_the_cutoff() {
        let now = Instant::now();
        let budget = Budget::until(now + Duration::from_secs(60), MARGIN);
        assert!(budget.may_start(now));
        // The cutoff is 59.5 s away: 49.5 s from now is the last moment to start.
        assert!(budget.may_start(now + Duration::from_millis(49_500)));
        assert!(!budget.may_start(now + Duration::from_millis(49_501)));
        assert!(!budget.may_start(now + Duration::from_secs(70)));
    }

    // Without a deadline every call starts, however late.
    #[tokio::test(start_paused = true)]
    async fn an_unlimited_budget_always_starts() {
        let budget = Budget::unlimited();
        assert!(budget.may_start(Instant::now() + Duration::from_secs(86_400)));
        assert_eq!(budget.run(async { 7 }).await, Ok(7));
    }

    // A call that never answers is abandoned at the cutoff, the reserve before the
    // deadline, not at the deadline.
    #[tokio::test(start_paused = true)]
    async fn a_call_that_never_answers_is_abandoned_at_the_cutoff() {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(12);
        let budget = Budget::until(deadline, MARGIN);
        let outcome = budget.run(std::future::pending::<()>()).await;
        assert_eq!(
            outcome,
            Err(OutOfTime::Abandoned {
                reserve: ANSWER_RESERVE
            })
        );
        assert_eq!(Instant::now(), deadline - ANSWER_RESERVE);
    }

    // A call refused for lack of time is never polled: nothing is sent.
    #[tokio::test(start_paused = true)]
    async fn a_call_refused_for_lack_of_time_never_runs() {
        let budget = Budget::until(Instant::now() + Duration::from_secs(5), MARGIN);
        assert!(budget.too_short_for_any_call(Instant::now()));
        let mut ran = false;
        let outcome = budget.run(async { ran = true }).await;
        assert_eq!(outcome, Err(OutOfTime::NotStarted { margin: MARGIN }));
        assert!(!ran);
    }
}
