//! Bounded concurrency, one way for the whole crate: the function's writes, the auditor's
//! reads and `verify`'s checks all run through [`bounded`].
//!
//! The one panic policy: a task that panics (or is cancelled) yields [`Panicked`] in its
//! slot, never a crash of the caller. For a write that means "not demonstrably stored",
//! for a read "not read": each caller turns it into its own failure.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinSet};

/// A task ended without a result: it panicked or was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the task ended without a result: {reason}")]
pub struct Panicked {
    pub reason: String,
}

/// Runs `task` on every input with at most `limit` (at least 1) in flight on the runtime,
/// and returns the results in the order of `inputs`. `on_done` is told how many have
/// finished after each one (for progress lines).
pub async fn bounded<I, T, F, Fut>(
    inputs: impl IntoIterator<Item = I>,
    limit: usize,
    task: F,
    mut on_done: impl FnMut(usize),
) -> Vec<Result<T, Panicked>>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let limit = limit.max(1);
    let mut results: Vec<Option<Result<T, Panicked>>> = Vec::new();
    let mut tasks = JoinSet::new();
    let mut slots: HashMap<Id, usize> = HashMap::new();
    let mut finished = 0;
    for (index, input) in inputs.into_iter().enumerate() {
        results.push(None);
        while tasks.len() >= limit {
            collect_one(&mut tasks, &slots, &mut results).await;
            finished += 1;
            on_done(finished);
        }
        let handle = tasks.spawn(task(input));
        slots.insert(handle.id(), index);
    }
    while !tasks.is_empty() {
        collect_one(&mut tasks, &slots, &mut results).await;
        finished += 1;
        on_done(finished);
    }
    results
        .into_iter()
        .map(|slot| {
            // Every task is collected, so every slot is filled; this is a safety net.
            slot.unwrap_or_else(|| {
                Err(Panicked {
                    reason: "no result was returned".to_owned(),
                })
            })
        })
        .collect()
}

/// Waits for one task and files its result in its input's slot.
async fn collect_one<T: Send + 'static>(
    tasks: &mut JoinSet<T>,
    slots: &HashMap<Id, usize>,
    results: &mut [Option<Result<T, Panicked>>],
) {
    let (id, result) = match tasks.join_next_with_id().await {
        Some(Ok((id, value))) => (id, Ok(value)),
        Some(Err(error)) => {
            tracing::error!(error = %error, "a concurrent task panicked");
            (
                error.id(),
                Err(Panicked {
                    reason: error.to_string(),
                }),
            )
        }
        None => return,
    };
    if let Some(&index) = slots.get(&id) {
        results[index] = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come back in input order whatever order the tasks finish in, and no more
    /// than the limit run at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn results_keep_input_order_under_the_limit() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut progress = Vec::new();
        let results = bounded(
            0..20u64,
            3,
            |n| {
                let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..(20 - n) {
                        tokio::task::yield_now().await;
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    n * 10
                }
            },
            |done| progress.push(done),
        )
        .await;
        let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, (0..20).map(|n| n * 10).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(progress, (1..=20).collect::<Vec<_>>());
    }

    /// A panicking task is a failure in its own slot; the others still succeed.
    #[tokio::test]
    async fn a_panic_fails_only_its_own_slot() {
        let results = bounded(
            0..5,
            2,
            |n| async move {
                assert_ne!(n, 2, "task two panics");
                n
            },
            |_| {},
        )
        .await;
        for (n, result) in results.iter().enumerate() {
            if n == 2 {
                assert!(result.is_err(), "slot 2 holds the panic");
            } else {
                assert_eq!(result.as_ref().ok(), Some(&n));
            }
        }
    }
}
