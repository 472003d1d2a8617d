//! Writing a plan's objects through a [`Sink`], and what the writes left undone.
//!
//! The rule it keeps: a record counts as stored only if its document is in the bucket
//! (written now or by an earlier delivery); every other record is [`Unstored`], for the
//! handler to report. This module talks to S3 only through the sink it is given.
//!
//! Record mode: every object has a key of its own, so they are written concurrently and
//! exactly the failed ones are unstored; the documents written meanwhile cost nothing the
//! second time (`If-None-Match`: already there).
//!
//! Batch mode: objects are written in batch order and the first failure stops the writing,
//! so a re-delivery starts where a stored object starts, or exactly after the last stored
//! one. A re-delivery that meets a stored object (its write succeeded but the answer was
//! lost) reads from its metadata where it ends and writes only the rest, under the next
//! record's key. So a retried batch writes each document once.

use std::cmp::Ordering;
use std::future::Future;
use std::sync::Arc;

use aws_smithy_types::error::display::DisplayErrorContext;

use crate::concurrent::{self, Panicked};
use crate::function::deadline::{Budget, OutOfTime};
use crate::function::metrics::Metrics;
use crate::function::plan::{Member, Objects, Planned, Run, Single};
use crate::key;
use crate::store::sink::{Metadata, Object, PutOutcome, Sink, SinkError};

/// A write whose records are not (known to be) stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The sink refused the put or the head (after the SDK's own retries, for S3).
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// An object already under the key does not say which records it holds: not a write
    /// of this function, or a bug. It is never overwritten; its records count as failed,
    /// so nothing is claimed stored that may not be.
    #[error("the object already under {key} does not say what it holds: {reason}")]
    Unrecognised { key: String, reason: Unrecognised },
    /// The write's task panicked or vanished: it did not demonstrably happen.
    #[error("writing {key} ended without a result")]
    Panicked {
        key: String,
        #[source]
        source: Panicked,
    },
    /// The invocation's deadline was near: the call was never started, or was abandoned
    /// in flight (then it may have landed; a re-delivery finds out).
    #[error("{key} was left for the re-delivery")]
    OutOfTime {
        key: String,
        #[source]
        source: OutOfTime,
    },
}

impl WriteError {
    /// Whether the same write may succeed later (everything but a programming error is).
    fn is_retryable(&self) -> bool {
        match self {
            Self::Sink(error) => error.is_retryable(),
            Self::Unrecognised { .. } | Self::Panicked { .. } | Self::OutOfTime { .. } => true,
        }
    }
}

/// Why an object already under a batch key is not trusted to hold the run's records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrecognised {
    /// The put found an object, the head did not.
    #[error("it was there for the write, then gone")]
    Gone,
    /// It starts with another record (or does not say which).
    #[error(
        "its first record is eventID {stored:?} ({} metadata), not {expected:?}",
        key::FIRST_EVENT_ID
    )]
    OtherFirstRecord {
        stored: Option<String>,
        expected: Option<String>,
    },
    /// It does not say where it ends.
    #[error("no {} metadata", key::LAST_SEQUENCE_NUMBER)]
    NoLastSequenceNumber,
    /// Its last sequence number and a record's cannot be ordered.
    #[error("sequence numbers {seq:?} and {last:?} (metadata) do not compare")]
    Incomparable { seq: String, last: String },
    /// Its record count is not a number.
    #[error("{} metadata {records:?} is not a count", key::RECORDS)]
    NotACount { records: String },
    /// It ends before the record it is named after.
    #[error("it ends at {last:?}, before its own first record {first:?}")]
    EndsBeforeItsFirstRecord { last: String, first: Option<String> },
}

/// What the writes left undone.
#[derive(Debug, Default)]
pub(super) struct Unstored {
    /// Records whose documents are not (known to be) stored, in any order.
    pub(super) records: Vec<Member>,
    /// The first failed write of a record without a sequence number (nothing to report).
    pub(super) unidentifiable: Option<(Option<String>, WriteError)>,
    /// How many of `records` were left undone for lack of time, not for a failure.
    pub(super) deferred: usize,
}

impl Unstored {
    /// Notes a failed write of `members` (the records from the failed object's first on).
    fn fail(&mut self, key: &str, members: Vec<Member>, error: WriteError) {
        match &error {
            // Expected near the deadline, and summed up once by the handler.
            WriteError::OutOfTime { source, .. } => {
                self.deferred += members.len();
                if matches!(source, OutOfTime::Abandoned { .. }) {
                    tracing::warn!(key = %key, records = members.len(), "write abandoned at the deadline's cutoff");
                }
            }
            _ => tracing::error!(
                key = %key,
                records = members.len(),
                retryable = error.is_retryable(),
                error = %DisplayErrorContext(&error),
                "write failed; its records will be re-delivered"
            ),
        }
        if let Some(member) = members.iter().find(|m| m.sequence_number.is_none()) {
            self.unidentifiable
                .get_or_insert((member.event_id.clone(), error));
        }
        self.records.extend(members);
    }
}

/// Writes a plan's objects the way its mode needs, within `budget`, counting what was
/// written in `metrics`; returns what is not stored.
pub(super) async fn write<S: Sink>(
    sink: &Arc<S>,
    objects: Objects,
    max_concurrency: usize,
    budget: &Budget,
    metrics: &mut Metrics,
) -> Unstored {
    match objects {
        Objects::Record(objects) => {
            write_concurrently(sink, objects, max_concurrency, budget, metrics).await
        }
        Objects::Batch(objects) => write_in_order(sink, objects, budget, metrics).await,
    }
}

/// A sink call within the budget: its own error, or the budget's.
async fn within<T>(
    budget: &Budget,
    key: &str,
    call: impl Future<Output = Result<T, SinkError>>,
) -> Result<T, WriteError> {
    match budget.run(call).await {
        Ok(result) => result.map_err(WriteError::from),
        Err(source) => Err(WriteError::OutOfTime {
            key: key.to_owned(),
            source,
        }),
    }
}

/// Record mode: every object is independent (its key is the record's), so they are
/// written with at most `max_concurrency` puts in flight and exactly the failed ones are
/// reported.
async fn write_concurrently<S: Sink>(
    sink: &Arc<S>,
    singles: Vec<Single>,
    max_concurrency: usize,
    budget: &Budget,
    metrics: &mut Metrics,
) -> Unstored {
    let (objects, members): (Vec<Object>, Vec<Member>) = singles
        .into_iter()
        .map(|single| (single.object, single.member))
        .unzip();
    let described: Vec<(String, usize)> = objects
        .iter()
        .map(|o| (o.key.clone(), o.body.len()))
        .collect();
    let results = concurrent::bounded(
        objects,
        max_concurrency,
        |object| {
            let (sink, budget) = (Arc::clone(sink), *budget);
            // The budget is consulted when the task starts, once a slot is free.
            async move {
                let key = object.key.clone();
                within(&budget, &key, sink.put(object)).await
            }
        },
        |_| {},
    )
    .await;
    let mut unstored = Unstored::default();
    for (((key, size), result), member) in described.into_iter().zip(results).zip(members) {
        match result {
            Ok(Ok(outcome)) => count(metrics, outcome, size),
            Ok(Err(error)) => unstored.fail(&key, vec![member], error),
            // A panicking sink: the write did not demonstrably happen, so it counts as failed.
            Err(source) => {
                let error = WriteError::Panicked {
                    key: key.clone(),
                    source,
                };
                unstored.fail(&key, vec![member], error);
            }
        }
    }
    unstored
}

/// Batch mode: objects are written one after another in batch order, and the first
/// failure stops the writing. Lambda re-delivers from the lowest reported record and
/// everything after it, so every record from the failed object's first on is reported,
/// and no later object is written: the re-delivery starts at the failed object's first
/// record and brings the later records again, and an object of them written now could
/// be cut differently then (a duplicate).
async fn write_in_order<S: Sink>(
    sink: &Arc<S>,
    planned: Vec<Planned>,
    budget: &Budget,
    metrics: &mut Metrics,
) -> Unstored {
    let mut unstored = Unstored::default();
    // The records of the last object stored whose first record has a sequence number: a
    // re-delivery can start there again without cutting into a stored object.
    let mut anchor: Vec<Member> = Vec::new();
    let mut planned = planned.into_iter();
    while let Some(next) = planned.next() {
        let failure = match next {
            Planned::Single(Single { object, member }) => {
                let (key, size) = (object.key.clone(), object.body.len());
                match within(budget, &key, sink.put(object)).await {
                    Ok(outcome) => {
                        count(metrics, outcome, size);
                        if member.sequence_number.is_some() {
                            anchor = vec![member];
                        }
                        None
                    }
                    Err(error) => Some((key, vec![member], error)),
                }
            }
            Planned::Run(mut run) => match write_run(sink, &run, budget, metrics).await {
                Ok(()) => {
                    anchor = run.members;
                    None
                }
                Err((start, key, error)) => Some((key, run.members.split_off(start), error)),
            },
        };
        if let Some((key, members, error)) = failure {
            let before = unstored.records.len();
            let out_of_time = matches!(error, WriteError::OutOfTime { .. });
            let unidentifiable = members.first().is_some_and(|m| m.sequence_number.is_none());
            if unidentifiable && !anchor.is_empty() {
                // The failed record has no sequence number to report. Failing the whole
                // invocation would make Lambda split the batch (bisection), and a half
                // starting inside a stored object writes its records again. Reporting the
                // stored object before it makes Lambda re-deliver from that object's first
                // record instead: the object is found stored, then this record comes again.
                tracing::error!(
                    key = %key,
                    event_id = members[0].event_id.as_deref(),
                    error = %DisplayErrorContext(&error),
                    "write of an unreadable record without a sequence number failed; \
                     reporting from the object stored before it"
                );
                unstored.records.append(&mut anchor);
                unstored.records.extend(members);
            } else {
                unstored.fail(&key, members, error);
            }
            // Nothing after the failure is written; all of it is reported.
            for rest in planned.by_ref() {
                match rest {
                    Planned::Single(single) => unstored.records.push(single.member),
                    Planned::Run(run) => unstored.records.extend(run.members),
                }
            }
            if out_of_time {
                unstored.deferred = unstored.records.len() - before;
            }
        }
    }
    unstored
}

/// Writes a run as one object; where an earlier delivery already stored the run's first
/// records under the same key, writes only the rest, as an object of its own (and so on).
/// On failure, returns the position in the run of the first record not known to be
/// stored, with the key and error of the failed call.
async fn write_run<S: Sink>(
    sink: &Arc<S>,
    run: &Run,
    budget: &Budget,
    metrics: &mut Metrics,
) -> Result<(), (usize, String, WriteError)> {
    let mut start = 0;
    while start < run.members.len() {
        let object = run.object(start);
        let (key, size) = (object.key.clone(), object.body.len());
        match within(budget, &key, sink.put(object)).await {
            Ok(PutOutcome::Written) => {
                count(metrics, PutOutcome::Written, size);
                return Ok(());
            }
            // A stored object starting at this record: written by an earlier delivery
            // whose answer may never have arrived, and which may have ended earlier or
            // later than this run.
            Ok(PutOutcome::AlreadyExists) => {
                count(metrics, PutOutcome::AlreadyExists, size);
                let metadata = match within(budget, &key, sink.head(&key)).await {
                    Ok(Some(metadata)) => metadata,
                    Ok(None) => {
                        let reason = Unrecognised::Gone;
                        return Err((start, key.clone(), WriteError::Unrecognised { key, reason }));
                    }
                    Err(error) => return Err((start, key, error)),
                };
                match stored_records(&metadata, &run.members[start..]) {
                    Ok(held) => start += held,
                    Err(reason) => {
                        return Err((start, key.clone(), WriteError::Unrecognised { key, reason }));
                    }
                }
            }
            Err(error) => return Err((start, key, error)),
        }
    }
    Ok(())
}

/// How many of `members` (consecutive records of one partition, starting with the
/// record the stored object is named after) the stored object holds, from its metadata:
/// none unless it starts with the same record (eventID); then those up to its last
/// sequence number (records of a shard come in one order in every delivery), never more
/// than its record count.
fn stored_records(metadata: &Metadata, members: &[Member]) -> Result<usize, Unrecognised> {
    let first = members
        .first()
        .and_then(|m| m.event_id.as_deref())
        .map(key::metadata_value);
    let stored_first = metadata.get(key::FIRST_EVENT_ID);
    if stored_first.is_none() || stored_first != first.as_ref() {
        return Err(Unrecognised::OtherFirstRecord {
            stored: stored_first.cloned(),
            expected: first,
        });
    }
    let last = metadata
        .get(key::LAST_SEQUENCE_NUMBER)
        .ok_or(Unrecognised::NoLastSequenceNumber)?;
    let mut held = 0;
    for member in members {
        let seq = member.sequence_number.as_deref().unwrap_or_default();
        match key::compare_sequence_numbers(seq, last) {
            Some(Ordering::Greater) => break,
            Some(_) => held += 1,
            None => {
                return Err(Unrecognised::Incomparable {
                    seq: seq.to_owned(),
                    last: last.clone(),
                });
            }
        }
    }
    if let Some(records) = metadata.get(key::RECORDS) {
        let records: usize = records.parse().map_err(|_| Unrecognised::NotACount {
            records: records.clone(),
        })?;
        if records < held {
            // Claiming fewer records stored than there are can only cost a duplicate;
            // claiming more would lose documents.
            tracing::warn!(
                last_sequence_number = %last,
                records,
                held,
                "batch object metadata disagree; trusting the smaller count"
            );
            held = records;
        }
    }
    if held == 0 {
        return Err(Unrecognised::EndsBeforeItsFirstRecord {
            last: last.clone(),
            first: members.first().and_then(|m| m.sequence_number.clone()),
        });
    }
    Ok(held)
}

fn count(metrics: &mut Metrics, outcome: PutOutcome, size: usize) {
    match outcome {
        PutOutcome::Written => {
            metrics.objects_written += 1;
            metrics.bytes_written += size as u64;
        }
        PutOutcome::AlreadyExists => metrics.duplicates_avoided += 1,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::{Value, json};

    use super::*;
    use crate::function::config::Mode;
    use crate::function::handler::{HandlerError, handle};
    use crate::function::testing::*;
    use crate::store::sink::MemorySink;

    // A write failing for one record in the middle reports exactly that record; the
    // others are stored.
    #[tokio::test]
    async fn failed_write_in_the_middle_reports_exactly_that_record() {
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("-ev103.json");
        let invocation = handle(&sink, &settings(Mode::Record), &event(&batch(5)), NOW).await;
        assert_eq!(failures(&invocation.outcome.unwrap()), ["103"]);
        assert_eq!(sink.objects().len(), 4);
        assert!(!sink.objects().keys().any(|k| k.ends_with("-ev103.json")));
        assert_eq!(
            (
                invocation.metrics.failed_records,
                invocation.metrics.objects_written
            ),
            (1, 4)
        );
    }

    // Re-delivering a batch writes nothing new: every put finds its object, counted as a
    // duplicate avoided, and nothing is reported failed.
    #[tokio::test]
    async fn redelivered_batch_is_all_duplicates() {
        let sink = Arc::new(MemorySink::new());
        let input = event(&batch(5));
        handle(&sink, &settings(Mode::Record), &input, NOW)
            .await
            .outcome
            .unwrap();
        let before = sink.objects();
        let again = handle(&sink, &settings(Mode::Record), &input, NOW).await;
        assert!(failures(&again.outcome.unwrap()).is_empty());
        assert_eq!(
            (
                again.metrics.objects_written,
                again.metrics.duplicates_avoided
            ),
            (0, 5)
        );
        assert_eq!(again.metrics.bytes_written, 0);
        assert_eq!(sink.objects(), before);
    }

    // After a failure, Lambda re-delivers from the lowest reported record: that batch
    // writes what was missing and nothing is lost.
    #[tokio::test]
    async fn redelivery_after_failure_loses_nothing() {
        let sink = Arc::new(MemorySink::new());
        let records = batch(5);
        sink.fail_when(|key| key.ends_with("-ev102.json") || key.ends_with("-ev104.json"));
        let first = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        assert_eq!(failures(&first.outcome.unwrap()), ["102", "104"]);
        sink.heal();
        // Lambda resumes at sequence number 102: records 2..=5.
        let second = handle(&sink, &settings(Mode::Record), &event(&records[1..]), NOW).await;
        assert!(failures(&second.outcome.unwrap()).is_empty());
        assert_eq!(
            (
                second.metrics.objects_written,
                second.metrics.duplicates_avoided
            ),
            (2, 2)
        );
        assert_eq!(sink.objects().len(), 5);
    }

    // Batch mode: when an earlier partition's object fails and a later one would succeed,
    // every record from the failure on is reported and the later object is not written.
    #[tokio::test]
    async fn batch_mode_failure_reports_every_later_record_and_writes_nothing_after_it() {
        let records = vec![
            insert(101, "a", CREATED),
            insert(102, "b", CREATED + 3600),
            insert(103, "c", CREATED + 3600),
            insert(104, "d", CREATED + 7200),
        ];
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("hour=03/");
        let invocation = handle(&sink, &settings(Mode::Batch), &event(&records), NOW).await;
        assert_eq!(
            failures(&invocation.outcome.unwrap()),
            ["102", "103", "104"]
        );
        assert_eq!(invocation.metrics.failed_records, 3);
        let objects = sink.objects();
        assert_eq!(objects.len(), 1);
        assert!(
            objects.keys().all(|k| k.contains("hour=02/")),
            "{objects:?}"
        );
        // The hour=04 object was never even attempted.
        assert!(!sink.attempts().iter().any(|k| k.contains("hour=04/")));
    }

    // Batch mode: a failed unreadable record stops the writing like any object: it and
    // every record after it are reported, and the run after it is not written.
    #[tokio::test]
    async fn batch_mode_unreadable_failure_stops_the_objects_after_it() {
        let records = vec![
            insert(101, "a", CREATED),
            poisoned(102),
            insert(103, "c", CREATED),
        ];
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("unreadable/");
        let invocation = handle(&sink, &settings(Mode::Batch), &event(&records), NOW).await;
        assert_eq!(failures(&invocation.outcome.unwrap()), ["102", "103"]);
        let keys: Vec<String> = sink.objects().into_keys().collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys, [batch_key("02", "101")]);
    }

    // Batch mode: an unreadable record without a sequence number whose write fails is
    // reported through the stored object before it (whose records come again, finding it
    // stored), so the invocation does not fail and Lambda does not split the batch; with
    // no object before it, the invocation fails.
    #[tokio::test]
    async fn batch_mode_unidentifiable_failure_reports_from_the_stored_object_before_it() {
        let noseq = json!({"eventID": "lost", "eventName": "INSERT"});
        let records = vec![
            insert(101, "a", CREATED),
            insert(102, "b", CREATED),
            noseq.clone(),
            insert(104, "d", CREATED),
        ];
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("unreadable/noseq");
        let first = handle(&sink, &settings(Mode::Batch), &event(&records), NOW).await;
        assert_eq!(failures(&first.outcome.unwrap()), ["101", "102", "104"]);
        assert_eq!(sink.objects().len(), 1);
        sink.heal();
        let again = handle(&sink, &settings(Mode::Batch), &event(&records), NOW).await;
        assert!(failures(&again.outcome.unwrap()).is_empty());
        let objects = sink.objects();
        assert_eq!(objects.len(), 3);
        assert!(objects.contains_key("audit/unreadable/noseq-lost.json"));
        let readable: Vec<Value> = records.iter().filter(|r| r != &&noseq).cloned().collect();
        let mut expected = all_once(&readable);
        expected.insert("lost".to_owned(), 1);
        assert_eq!(stored_event_ids(&sink), expected);

        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("unreadable/noseq");
        let alone = handle(&sink, &settings(Mode::Batch), &event(&records[2..]), NOW).await;
        assert!(matches!(
            alone.outcome,
            Err(HandlerError::Unidentifiable { .. })
        ));
        assert!(sink.objects().is_empty());
    }

    // Batch mode: re-delivering the reported suffix, extended with new records as Lambda
    // fills the batch again, stores each document exactly once across all objects.
    #[tokio::test]
    async fn batch_mode_redelivered_suffix_stores_each_document_exactly_once() {
        let hour = |h: i64| CREATED + 3600 * h;
        let stream: Vec<Value> = (0..12)
            .map(|i| insert(101 + i, &format!("o{i}"), hour(i as i64 / 3)))
            .collect();
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("hour=03/");
        let first = handle(&sink, &settings(Mode::Batch), &event(&stream[..8]), NOW).await;
        let reported = failures(&first.outcome.unwrap());
        assert_eq!(reported, ["104", "105", "106", "107", "108"]);
        sink.heal();
        // Lambda resumes at the lowest reported record and fills the batch up again.
        let resume = stream
            .iter()
            .position(|r| r["dynamodb"]["SequenceNumber"] == reported[0])
            .unwrap();
        let second = handle(
            &sink,
            &settings(Mode::Batch),
            &event(&stream[resume..]),
            NOW,
        )
        .await;
        assert!(failures(&second.outcome.unwrap()).is_empty());
        assert_eq!(stored_event_ids(&sink), all_once(&stream));
    }

    // Batch mode: a write S3 stored whose answer never came (the records are reported),
    // followed by a re-delivery that runs further, stores each document exactly once: the
    // stored object is kept and only the records after it are written.
    #[tokio::test]
    async fn batch_mode_ambiguous_write_then_longer_redelivery_stores_each_document_once() {
        let hour = |h: i64| CREATED + 3600 * h;
        let mut stream: Vec<Value> = (101..=103).map(|s| insert(s, "a", hour(0))).collect();
        stream.extend((104..=108).map(|s| insert(s, "b", hour(1))));
        stream.extend((109..=110).map(|s| insert(s, "c", hour(2))));
        let sink = Arc::new(MemorySink::new());
        sink.fail_after_storing_when(|k| k.contains("hour=03/"));
        let first = handle(&sink, &settings(Mode::Batch), &event(&stream[..6]), NOW).await;
        assert_eq!(failures(&first.outcome.unwrap()), ["104", "105", "106"]);
        assert_eq!(
            meta(&sink.objects()[&batch_key("03", "104")].metadata),
            ("106", 3)
        );
        sink.heal();

        let second = handle(&sink, &settings(Mode::Batch), &event(&stream[3..]), NOW).await;
        assert!(failures(&second.outcome.unwrap()).is_empty());
        assert_eq!(stored_event_ids(&sink), all_once(&stream));
        let objects = sink.objects();
        assert_eq!(meta(&objects[&batch_key("03", "107")].metadata), ("108", 2));
        assert!(objects.contains_key(&batch_key("04", "109")));
        assert_eq!(
            (
                second.metrics.objects_written,
                second.metrics.duplicates_avoided,
                second.metrics.failed_records
            ),
            (2, 1, 0)
        );
    }

    // Batch mode: a shorter re-delivery (Lambda bisecting a failed batch) from a stored
    // object's first record finds all of it stored: no new object and no failure.
    #[tokio::test]
    async fn batch_mode_shorter_redelivery_after_stored_object_writes_nothing() {
        let stream = batch(6);
        let sink = Arc::new(MemorySink::new());
        sink.fail_after_storing_when(|_| true);
        let first = handle(&sink, &settings(Mode::Batch), &event(&stream), NOW).await;
        assert_eq!(failures(&first.outcome.unwrap()).len(), 6);
        sink.heal();
        let before = sink.objects();

        let half = handle(&sink, &settings(Mode::Batch), &event(&stream[..3]), NOW).await;
        assert!(failures(&half.outcome.unwrap()).is_empty());
        assert_eq!(sink.objects(), before);
        assert_eq!(
            (
                half.metrics.objects_written,
                half.metrics.duplicates_avoided
            ),
            (0, 1)
        );
        assert_eq!(stored_event_ids(&sink), all_once(&stream));
    }

    // Batch mode: a re-delivery meeting several stored objects in a row (ambiguous writes
    // in several deliveries) skips each and writes only what follows the last.
    #[tokio::test]
    async fn batch_mode_redelivery_follows_a_chain_of_stored_objects() {
        let stream = batch(7);
        let sink = Arc::new(MemorySink::new());
        sink.fail_after_storing_when(|_| true);
        let first = handle(&sink, &settings(Mode::Batch), &event(&stream[..3]), NOW).await;
        assert_eq!(failures(&first.outcome.unwrap()), ["101", "102", "103"]);
        let second = handle(&sink, &settings(Mode::Batch), &event(&stream[..5]), NOW).await;
        assert_eq!(failures(&second.outcome.unwrap()), ["104", "105"]);
        sink.heal();

        let third = handle(&sink, &settings(Mode::Batch), &event(&stream), NOW).await;
        assert!(failures(&third.outcome.unwrap()).is_empty());
        assert_eq!(
            sink.objects().into_keys().collect::<Vec<_>>(),
            [
                batch_key("02", "101"),
                batch_key("02", "104"),
                batch_key("02", "106")
            ]
        );
        assert_eq!(stored_event_ids(&sink), all_once(&stream));
    }

    // Batch mode: an object already under the key that does not say where it ends, or
    // starts with another record (not written for these records), is left alone, and the
    // run is reported, not claimed.
    #[tokio::test]
    async fn batch_mode_foreign_object_under_the_key_is_not_trusted() {
        let claims_all = Metadata::from([
            (key::FIRST_EVENT_ID.to_owned(), "other-stream".to_owned()),
            (key::LAST_SEQUENCE_NUMBER.to_owned(), "999".to_owned()),
            (key::RECORDS.to_owned(), "100".to_owned()),
        ]);
        for metadata in [Metadata::new(), claims_all] {
            let sink = Arc::new(MemorySink::new());
            let foreign = Object {
                key: batch_key("02", "101"),
                body: b"foreign".to_vec(),
                content_type: key::JSON_LINES,
                content_encoding: None,
                metadata: metadata.clone(),
            };
            sink.put(foreign).await.unwrap();
            let invocation = handle(&sink, &settings(Mode::Batch), &event(&batch(3)), NOW).await;
            assert_eq!(
                failures(&invocation.outcome.unwrap()),
                ["101", "102", "103"],
                "{metadata:?}"
            );
            assert_eq!(sink.objects()[&batch_key("02", "101")].body, b"foreign");
            assert_eq!(sink.objects().len(), 1);
        }
    }

    // Batch mode: when the stored object's metadata cannot be read, the run from that
    // object on is reported.
    #[tokio::test]
    async fn batch_mode_failed_head_reports_the_rest_of_the_run() {
        let sink = Arc::new(MemorySink::new());
        let stream = batch(4);
        sink.fail_after_storing_when(|_| true);
        handle(&sink, &settings(Mode::Batch), &event(&stream[..2]), NOW).await;
        sink.heal();
        sink.fail_head_when(|_| true);
        let invocation = handle(&sink, &settings(Mode::Batch), &event(&stream), NOW).await;
        assert_eq!(
            failures(&invocation.outcome.unwrap()),
            ["101", "102", "103", "104"]
        );
        assert_eq!(sink.objects().len(), 1);
    }

    fn member(seq: &str) -> Member {
        Member {
            index: 0,
            sequence_number: Some(seq.to_owned()),
            event_id: Some(format!("ev{seq}")),
        }
    }

    /// Metadata of a stored object starting with `members[0]`.
    fn stored(members: &[Member], last: &str, records: Option<&str>) -> Metadata {
        let mut metadata = Metadata::from([
            (key::LAST_SEQUENCE_NUMBER.to_owned(), last.to_owned()),
            (
                key::FIRST_EVENT_ID.to_owned(),
                members[0].event_id.clone().unwrap(),
            ),
        ]);
        if let Some(records) = records {
            metadata.insert(key::RECORDS.to_owned(), records.to_owned());
        }
        metadata
    }

    // The records a stored object holds are those up to its last sequence number,
    // compared by value (here across a digit-count change and beyond u64).
    #[test]
    fn stored_records_are_those_up_to_the_last_sequence_number() {
        let big = "99999999999999999999999999999999999999";
        let members: Vec<Member> = ["98", "99", "100", big, &format!("1{big}")]
            .into_iter()
            .map(member)
            .collect();
        let held = |last, records| stored_records(&stored(&members, last, records), &members);
        assert_eq!(held("99", None), Ok(2));
        assert_eq!(held("100", Some("3")), Ok(3));
        assert_eq!(held(big, None), Ok(4));
    }

    // Metadata that claims more records than its count never makes more records count as
    // stored; missing, unreadable or foreign metadata (another first record) is an error,
    // never "all stored".
    #[test]
    fn stored_records_never_claims_more_than_the_metadata_allows() {
        let members: Vec<Member> = ["1", "2", "3"].into_iter().map(member).collect();
        let held = |metadata: Metadata| stored_records(&metadata, &members);
        assert_eq!(held(stored(&members, "3", Some("2"))), Ok(2));
        assert!(held(Metadata::new()).is_err());
        assert!(held(stored(&members, "3", Some("many"))).is_err());
        assert!(held(stored(&members, "0", None)).is_err());
        assert!(held(stored(&members, "x", None)).is_err());
        let mut no_first = stored(&members, "3", None);
        no_first.remove(key::FIRST_EVENT_ID);
        assert!(held(no_first).is_err());
        assert!(held(stored(&members[1..], "3", None)).is_err());
    }

    // Each reason an object is not trusted reads word for word as the log line has always
    // said it, naming the metadata at fault.
    #[test]
    fn unrecognised_reasons_name_the_metadata() {
        let members: Vec<Member> = ["1", "2"].into_iter().map(member).collect();
        let reason =
            |metadata: Metadata| stored_records(&metadata, &members).unwrap_err().to_string();
        assert_eq!(
            reason(Metadata::new()),
            r#"its first record is eventID None (first-event-id metadata), not Some("ev1")"#
        );
        let mut no_last = stored(&members, "2", None);
        no_last.remove(key::LAST_SEQUENCE_NUMBER);
        assert_eq!(reason(no_last), "no last-sequence-number metadata");
        assert_eq!(
            reason(stored(&members, "x", None)),
            r#"sequence numbers "1" and "x" (metadata) do not compare"#
        );
        assert_eq!(
            reason(stored(&members, "2", Some("many"))),
            r#"records metadata "many" is not a count"#
        );
        assert_eq!(
            reason(stored(&members, "0", None)),
            r#"it ends at "0", before its own first record Some("1")"#
        );
        let error = WriteError::Unrecognised {
            key: "k".to_owned(),
            reason: Unrecognised::Gone,
        };
        assert_eq!(
            error.to_string(),
            "the object already under k does not say what it holds: it was there for the write, then gone"
        );
    }

    /// A sink that counts how many puts are in flight at once.
    #[derive(Debug, Default)]
    struct CountingSink {
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        inner: MemorySink,
    }

    impl Sink for CountingSink {
        async fn put(&self, object: Object) -> Result<PutOutcome, SinkError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            let result = self.inner.put(object).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            result
        }

        async fn head(&self, key: &str) -> Result<Option<Metadata>, SinkError> {
            self.inner.head(key).await
        }
    }

    /// A sink whose put panics for record 102's document.
    #[derive(Debug, Default)]
    struct PanickingSink {
        inner: MemorySink,
    }

    impl Sink for PanickingSink {
        async fn put(&self, object: Object) -> Result<PutOutcome, SinkError> {
            assert!(!object.key.ends_with("-ev102.json"), "the sink panics");
            self.inner.put(object).await
        }

        async fn head(&self, key: &str) -> Result<Option<Metadata>, SinkError> {
            self.inner.head(key).await
        }
    }

    // A write whose task panics is a failed write of its own record: reported, never a
    // crash of the invocation, and the other records are stored.
    #[tokio::test]
    async fn panicked_write_reports_only_its_record() {
        let sink = Arc::new(PanickingSink::default());
        let invocation = handle(&sink, &settings(Mode::Record), &event(&batch(3)), NOW).await;
        assert_eq!(failures(&invocation.outcome.unwrap()), ["102"]);
        assert_eq!(invocation.metrics.failed_records, 1);
        assert_eq!(sink.inner.objects().len(), 2);
    }

    // Never more than AUDIT_MAX_CONCURRENCY writes are in flight, and all of them finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn writes_in_flight_never_exceed_the_limit() {
        let sink = Arc::new(CountingSink::default());
        let mut limited = settings(Mode::Record);
        limited.max_concurrency = 3;
        let invocation = handle(&sink, &limited, &event(&batch(40)), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        assert_eq!(sink.inner.objects().len(), 40);
        let peak = sink.peak.load(Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
    }
}
