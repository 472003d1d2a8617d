//! One Lambda invocation: a DynamoDB Streams batch in, objects written through a [`Sink`],
//! a partial batch response out.
//!
//! Planning (which object holds which records, under which key) is pure; only
//! [`handle`] writes, and only through the sink it is given, so the failure paths are
//! tested with [`crate::store::sink::MemorySink`]. The clock is a parameter. This module never
//! talks to the Lambda runtime or to S3 directly.
//!
//! The rule it keeps: a record is reported as processed only if its document is in the
//! bucket (written now or by an earlier delivery). Every other record's `SequenceNumber`
//! goes into `batchItemFailures`; Lambda re-delivers from the lowest one reported, and
//! everything after it comes again.
//!
//! Record mode: one object per record under a key of its own, so the documents written
//! meanwhile cost nothing the second time (`If-None-Match`: already there).
//!
//! Batch mode: an object holds a run of consecutive records of one partition and is named
//! after its first record. Objects are written in batch order and the first failure stops
//! the writing, so a re-delivery starts where a stored object starts, or exactly after the
//! last stored one. A re-delivery that meets a stored object (its write succeeded but the
//! answer was lost) reads from its metadata where it ends and writes only the rest, under
//! the next record's key. So a retried batch writes each document once.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_smithy_types::error::display::DisplayErrorContext;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::task::JoinSet;

use crate::document::{RenderOptions, Rendered};
use crate::event::{EventError, read_event};
use crate::function::config::{Config, Mode};
use crate::function::metrics::Metrics;
use crate::key;
use crate::store::sink::{Metadata, Object, PutOutcome, Sink, SinkError};
use crate::timestamp::Timestamp;

/// What the handler needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    pub mode: Mode,
    pub render: RenderOptions,
    /// Writes in flight at once (at least 1).
    pub max_concurrency: usize,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Self {
            prefix: config.prefix.clone(),
            mode: config.mode,
            render: RenderOptions {
                include_images: config.include_images,
            },
            max_concurrency: config.max_concurrency,
        }
    }
}

/// Why an invocation failed as a whole (Lambda then retries the whole batch).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The input is not a DynamoDB Streams event; nothing was written.
    #[error(transparent)]
    Event(#[from] EventError),
    /// An unreadable record without a readable `SequenceNumber` could not be stored. There
    /// is no identifier to report for it, and a partial response that omitted it would mark
    /// it processed, losing it; so the whole invocation fails and the batch comes again.
    #[error(
        "could not store the error document of an unreadable record that has no sequence number (eventID {event_id:?}); failing the invocation so the whole batch is retried"
    )]
    Unidentifiable {
        event_id: Option<String>,
        #[source]
        source: SinkError,
    },
}

/// The result of one invocation and its metrics (published either way).
#[derive(Debug)]
pub struct Invocation {
    pub metrics: Metrics,
    pub outcome: Result<DynamoDbEventResponse, HandlerError>,
}

/// A record an object holds: what to report if the object is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    /// Position in the batch, for reporting in batch order.
    index: usize,
    sequence_number: Option<String>,
    event_id: Option<String>,
}

/// A batch-mode partition: table, `dt`, `hour`.
type Partition = (String, String, String);

/// One object of a plan, with the records it holds.
#[derive(Debug)]
enum Planned {
    /// One document: a record-mode document, or an unreadable record's error document
    /// (either mode).
    Single { object: Object, member: Member },
    /// Batch mode: a maximal run of consecutive records (in batch order) of one partition.
    Run(Run),
}

/// A batch-mode run: consecutive records of one partition and their documents.
#[derive(Debug)]
struct Run {
    partition: Partition,
    members: Vec<Member>,
    lines: Vec<Vec<u8>>,
}

impl Run {
    /// The object holding the run's records from `start` on: named after the first of
    /// them, with the last one's sequence number and their count as metadata.
    fn object(&self, prefix: &str, start: usize) -> Object {
        let (table, dt, hour) = &self.partition;
        // Readable records always have a sequence number.
        let seq = |member: Option<&Member>| {
            member
                .and_then(|m| m.sequence_number.clone())
                .unwrap_or_default()
        };
        let first_event_id = self.members[start].event_id.as_deref().unwrap_or_default();
        let metadata = Metadata::from([
            (
                key::FIRST_EVENT_ID.to_owned(),
                key::metadata_value(first_event_id),
            ),
            (
                key::LAST_SEQUENCE_NUMBER.to_owned(),
                key::metadata_value(&seq(self.members.last())),
            ),
            (
                key::RECORDS.to_owned(),
                (self.members.len() - start).to_string(),
            ),
        ]);
        Object {
            key: key::batch_key(prefix, table, dt, hour, &seq(self.members.get(start))),
            body: gzip_lines(self.lines[start..].iter().map(Vec::as_slice)),
            content_type: key::JSON_LINES,
            content_encoding: Some(key::GZIP),
            metadata,
        }
    }
}

/// The objects to write for one batch, in batch order.
#[derive(Debug)]
struct Plan {
    objects: Vec<Planned>,
    metrics: Metrics,
}

/// What the writes left undone.
#[derive(Debug, Default)]
struct Unstored {
    /// Records whose documents are not (known to be) stored, in any order.
    records: Vec<Member>,
    /// The first failed write of a record without a sequence number (nothing to report).
    unidentifiable: Option<(Option<String>, SinkError)>,
}

impl Unstored {
    /// Notes a failed write of `members` (the records from the failed object's first on).
    fn fail(&mut self, key: &str, members: Vec<Member>, error: SinkError) {
        tracing::error!(
            key = %key,
            records = members.len(),
            retryable = error.is_retryable(),
            error = %DisplayErrorContext(&error),
            "write failed; its records will be re-delivered"
        );
        if let Some(member) = members.iter().find(|m| m.sequence_number.is_none()) {
            self.unidentifiable
                .get_or_insert((member.event_id.clone(), error));
        }
        self.records.extend(members);
    }
}

/// Handles one invocation: writes every record's document and reports the ones not stored.
pub async fn handle<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    now: Timestamp,
) -> Invocation {
    // The event is read and rendered in one pass; the renderings are only used once the
    // whole event has proved to be an event, so a malformed one writes nothing.
    let mut rendered = Vec::new();
    if let Err(error) = read_event(event, &settings.render, |r| rendered.push(r)) {
        return Invocation {
            metrics: Metrics::default(),
            outcome: Err(error.into()),
        };
    }
    let Plan {
        objects,
        mut metrics,
    } = plan(rendered, settings, now);
    let unstored = match settings.mode {
        Mode::Record => write_concurrently(sink, objects, settings, &mut metrics).await,
        Mode::Batch => write_in_order(sink, objects, settings, &mut metrics).await,
    };

    metrics.failed_records = unstored.records.len() as u64;
    if let Some((event_id, source)) = unstored.unidentifiable {
        return Invocation {
            metrics,
            outcome: Err(HandlerError::Unidentifiable { event_id, source }),
        };
    }
    let mut failed = unstored.records;
    failed.sort_by_key(|member| member.index);
    let mut response = DynamoDbEventResponse::default();
    // A record without a sequence number cannot be reported; it comes after a reported
    // record (batch mode) and is re-delivered with it, or it was stored.
    for member in failed {
        if let Some(sequence_number) = member.sequence_number {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            response.batch_item_failures.push(failure);
        }
    }
    Invocation {
        metrics,
        outcome: Ok(response),
    }
}

/// Record mode: every object is independent (its key is the record's), so they are
/// written concurrently and exactly the failed ones are reported.
async fn write_concurrently<S: Sink>(
    sink: &Arc<S>,
    planned: Vec<Planned>,
    settings: &Settings,
    metrics: &mut Metrics,
) -> Unstored {
    let (objects, members): (Vec<Object>, Vec<Vec<Member>>) = planned
        .into_iter()
        .map(|planned| match planned {
            Planned::Single { object, member } => (object, vec![member]),
            // Record mode plans no runs, but one would be written whole all the same.
            Planned::Run(run) => (run.object(&settings.prefix, 0), run.members),
        })
        .unzip();
    let results = write_all(sink, objects, settings.max_concurrency).await;
    let mut unstored = Unstored::default();
    for ((key, size, result), members) in results.into_iter().zip(members) {
        match result {
            Ok(outcome) => count(metrics, outcome, size),
            Err(error) => unstored.fail(&key, members, error),
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
    settings: &Settings,
    metrics: &mut Metrics,
) -> Unstored {
    let mut unstored = Unstored::default();
    // The records of the last object stored whose first record has a sequence number: a
    // re-delivery can start there again without cutting into a stored object.
    let mut anchor: Vec<Member> = Vec::new();
    let mut planned = planned.into_iter();
    while let Some(next) = planned.next() {
        let failure = match next {
            Planned::Single { object, member } => {
                let (key, size) = (object.key.clone(), object.body.len());
                match sink.put(object).await {
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
            Planned::Run(mut run) => match write_run(sink, &run, &settings.prefix, metrics).await {
                Ok(()) => {
                    anchor = run.members;
                    None
                }
                Err((start, key, error)) => Some((key, run.members.split_off(start), error)),
            },
        };
        if let Some((key, members, error)) = failure {
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
                    Planned::Single { member, .. } => unstored.records.push(member),
                    Planned::Run(run) => unstored.records.extend(run.members),
                }
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
    prefix: &str,
    metrics: &mut Metrics,
) -> Result<(), (usize, String, SinkError)> {
    let mut start = 0;
    while start < run.members.len() {
        let object = run.object(prefix, start);
        let (key, size) = (object.key.clone(), object.body.len());
        match sink.put(object).await {
            Ok(PutOutcome::Written) => {
                count(metrics, PutOutcome::Written, size);
                return Ok(());
            }
            // A stored object starting at this record: written by an earlier delivery
            // whose answer may never have arrived, and which may have ended earlier or
            // later than this run.
            Ok(PutOutcome::AlreadyExists) => {
                count(metrics, PutOutcome::AlreadyExists, size);
                let metadata = match sink.head(&key).await {
                    Ok(Some(metadata)) => metadata,
                    Ok(None) => {
                        let reason = "it was there for the write, then gone".to_owned();
                        return Err((start, key.clone(), SinkError::Unrecognised { key, reason }));
                    }
                    Err(error) => return Err((start, key, error)),
                };
                match stored_records(&metadata, &run.members[start..]) {
                    Ok(held) => start += held,
                    Err(reason) => {
                        return Err((start, key.clone(), SinkError::Unrecognised { key, reason }));
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
fn stored_records(metadata: &Metadata, members: &[Member]) -> Result<usize, String> {
    let first = members
        .first()
        .and_then(|m| m.event_id.as_deref())
        .map(key::metadata_value);
    let stored_first = metadata.get(key::FIRST_EVENT_ID);
    if stored_first.is_none() || stored_first != first.as_ref() {
        return Err(format!(
            "its first record is eventID {stored_first:?} ({} metadata), not {first:?}",
            key::FIRST_EVENT_ID
        ));
    }
    let last = metadata
        .get(key::LAST_SEQUENCE_NUMBER)
        .ok_or_else(|| format!("no {} metadata", key::LAST_SEQUENCE_NUMBER))?;
    let mut held = 0;
    for member in members {
        let seq = member.sequence_number.as_deref().unwrap_or_default();
        match key::compare_sequence_numbers(seq, last) {
            Some(Ordering::Greater) => break,
            Some(_) => held += 1,
            None => {
                return Err(format!(
                    "sequence numbers {seq:?} and {last:?} (metadata) do not compare"
                ));
            }
        }
    }
    if let Some(records) = metadata.get(key::RECORDS) {
        let records: usize = records
            .parse()
            .map_err(|_| format!("{} metadata {records:?} is not a count", key::RECORDS))?;
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
        return Err(format!(
            "it ends at {last:?}, before its own first record {:?}",
            members.first().and_then(|m| m.sequence_number.as_deref())
        ));
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

/// [`handle`], then the metrics line printed to stdout (where CloudWatch reads EMF) and
/// the outcome logged.
pub async fn invoke<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    now: Timestamp,
    function_name: &str,
) -> Result<DynamoDbEventResponse, HandlerError> {
    let Invocation { metrics, outcome } = handle(sink, settings, event, now).await;
    println!("{}", metrics.to_emf(function_name, now));
    match &outcome {
        Ok(response) => tracing::info!(
            records = metrics.records,
            objects_written = metrics.objects_written,
            duplicates_avoided = metrics.duplicates_avoided,
            failed_records = response.batch_item_failures.len(),
            "batch done"
        ),
        Err(error) => tracing::error!(error = %DisplayErrorContext(error), "invocation failed"),
    }
    outcome
}

/// Decides the objects for a batch's rendered records, in batch order: pure.
fn plan(records: Vec<Rendered<'_>>, settings: &Settings, now: Timestamp) -> Plan {
    let mut metrics = Metrics {
        records: records.len() as u64,
        ..Metrics::default()
    };
    let mut objects: Vec<Planned> = Vec::new();
    let mut oldest: Option<Timestamp> = None;

    for (index, rendered) in records.into_iter().enumerate() {
        match rendered {
            Rendered::Document {
                record,
                json,
                changes,
            } => {
                metrics.changes += changes as u64;
                if let Some(created) = record.approximate_creation_time {
                    oldest = Some(oldest.map_or(created, |o| o.min(created)));
                }
                let member = Member {
                    index,
                    sequence_number: Some(record.sequence_number.to_string()),
                    event_id: Some(record.event_id.to_string()),
                };
                match settings.mode {
                    Mode::Record => objects.push(Planned::Single {
                        object: Object {
                            key: key::record_key(&settings.prefix, &record),
                            body: json,
                            content_type: key::JSON,
                            content_encoding: None,
                            metadata: Metadata::new(),
                        },
                        member,
                    }),
                    Mode::Batch => {
                        let (dt, hour) = key::batch_partition(record.approximate_creation_time);
                        let partition = (record.table.clone(), dt, hour);
                        // A run only grows while consecutive records share a partition,
                        // so each object is a range of the batch and the batch's objects
                        // are ordered like its records.
                        match objects.last_mut() {
                            Some(Planned::Run(run)) if run.partition == partition => {
                                run.members.push(member);
                                run.lines.push(json);
                            }
                            _ => objects.push(Planned::Run(Run {
                                partition,
                                members: vec![member],
                                lines: vec![json],
                            })),
                        }
                    }
                }
            }
            Rendered::Unreadable {
                event_id,
                sequence_number,
                error,
                json,
            } => {
                metrics.unreadable_records += 1;
                tracing::error!(
                    event_id = event_id.as_deref(),
                    sequence_number = sequence_number.as_deref(),
                    error = %error,
                    "unreadable stream record; storing its error document"
                );
                // In both modes an unreadable record is its own object, under one prefix,
                // so they are easy to find and never mixed into a table's partitions.
                // In batch mode it also ends the run before it.
                objects.push(Planned::Single {
                    object: Object {
                        key: key::unreadable_key(
                            &settings.prefix,
                            event_id.as_deref(),
                            sequence_number.as_deref(),
                            // Stands in for a missing eventID: the error document holds the
                            // record verbatim, so it is as deterministic as the record.
                            &json,
                        ),
                        body: json,
                        content_type: key::JSON,
                        content_encoding: None,
                        metadata: Metadata::new(),
                    },
                    member: Member {
                        index,
                        sequence_number,
                        event_id,
                    },
                });
            }
        }
    }

    // Creation times are approximate and clocks skew: a record "from the future" is 0 old.
    metrics.oldest_record_age_ms = oldest.map(|o| (now.unix_millis - o.unix_millis).max(0));
    Plan { objects, metrics }
}

/// JSON Lines (one document per line, each line ending in `\n`), gzip-compressed. The gzip
/// header carries no time or name, so the same documents always give the same bytes (and
/// the same checksum).
fn gzip_lines<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        // Writing into a Vec cannot fail.
        encoder.write_all(line).expect("write to memory");
        encoder.write_all(b"\n").expect("write to memory");
    }
    encoder.finish().expect("write to memory")
}

/// Writes every object with at most `max_concurrency` puts in flight; returns, in the
/// order of `objects`, each object's key, size and result.
async fn write_all<S: Sink>(
    sink: &Arc<S>,
    objects: Vec<Object>,
    max_concurrency: usize,
) -> Vec<(String, usize, Result<PutOutcome, SinkError>)> {
    let max_concurrency = max_concurrency.max(1);
    let described: Vec<(String, usize)> = objects
        .iter()
        .map(|o| (o.key.clone(), o.body.len()))
        .collect();
    let mut results: Vec<Option<Result<PutOutcome, SinkError>>> = std::iter::repeat_with(|| None)
        .take(objects.len())
        .collect();
    let mut tasks = JoinSet::new();
    let mut task_index = HashMap::new();
    for (index, object) in objects.into_iter().enumerate() {
        while tasks.len() >= max_concurrency {
            collect_one(&mut tasks, &task_index, &described, &mut results).await;
        }
        let sink = Arc::clone(sink);
        let handle = tasks.spawn(async move { sink.put(object).await });
        task_index.insert(handle.id(), index);
    }
    while !tasks.is_empty() {
        collect_one(&mut tasks, &task_index, &described, &mut results).await;
    }
    described
        .into_iter()
        .zip(results)
        .map(|((key, size), result)| {
            // Every spawned task was collected, so every slot is filled.
            let result = result.unwrap_or_else(|| Err(SinkError::Panicked { key: key.clone() }));
            (key, size, result)
        })
        .collect()
}

async fn collect_one(
    tasks: &mut JoinSet<Result<PutOutcome, SinkError>>,
    task_index: &HashMap<tokio::task::Id, usize>,
    described: &[(String, usize)],
    results: &mut [Option<Result<PutOutcome, SinkError>>],
) {
    let Some(joined) = tasks.join_next_with_id().await else {
        return;
    };
    let (id, result) = match joined {
        Ok((id, result)) => (id, result),
        // A panicking sink: the write did not demonstrably happen, so it counts as failed.
        Err(join_error) => {
            let id = join_error.id();
            let key = task_index
                .get(&id)
                .map_or_else(String::new, |&i| described[i].0.clone());
            tracing::error!(key = %key, error = %join_error, "write task panicked");
            (id, Err(SinkError::Panicked { key }))
        }
    };
    if let Some(&index) = task_index.get(&id) {
        results[index] = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read as _;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use flate2::read::GzDecoder;
    use serde_json::{Value, json};

    use super::*;
    use crate::store::sink::MemorySink;

    const NOW: Timestamp = Timestamp {
        unix_millis: 1_795_746_760_000,
    };
    // 2026-11-27T02:31:40Z, 60 s before NOW.
    const CREATED: i64 = 1_795_746_700;

    fn settings(mode: Mode) -> Settings {
        Settings {
            prefix: "audit/".to_owned(),
            mode,
            render: RenderOptions::default(),
            max_concurrency: 4,
        }
    }

    /// A MODIFY-free INSERT record as Lambda delivers it.
    fn insert(seq: u64, pk: &str, created: i64) -> Value {
        json!({
            "eventID": format!("ev{seq}"),
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": created,
                "Keys": {"pk": {"S": pk}},
                "NewImage": {"pk": {"S": pk}, "qty": {"N": "1"}},
                "SequenceNumber": format!("{seq}"),
                "SizeBytes": 20,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000"
        })
    }

    /// A record with an unknown attribute type tag: unreadable, but with an ID and sequence.
    fn poisoned(seq: u64) -> Value {
        let mut record = insert(seq, "p", CREATED);
        record["dynamodb"]["Keys"] = json!({"pk": {"X": "?"}});
        record["dynamodb"]["NewImage"] = json!({"pk": {"X": "?"}});
        record
    }

    fn event(records: &[Value]) -> Vec<u8> {
        serde_json::to_vec(&json!({ "Records": records })).unwrap()
    }

    fn batch(n: u64) -> Vec<Value> {
        (1..=n)
            .map(|i| insert(100 + i, &format!("order#{i}"), CREATED))
            .collect()
    }

    fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone().unwrap())
            .collect()
    }

    /// How many times each eventID is stored, over every object in the sink (gzip JSON
    /// Lines and single documents alike).
    fn stored_event_ids(sink: &MemorySink) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (key, object) in sink.objects() {
            let text = if key.ends_with(".jsonl.gz") {
                gunzip(&object.body)
            } else {
                String::from_utf8(object.body).unwrap()
            };
            for line in text.lines() {
                let doc: Value = serde_json::from_str(line).unwrap();
                let id = doc["event_id"].as_str().unwrap().to_owned();
                *counts.entry(id).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Every record's eventID, once.
    fn all_once(records: &[Value]) -> BTreeMap<String, usize> {
        records
            .iter()
            .map(|r| (r["eventID"].as_str().unwrap().to_owned(), 1))
            .collect()
    }

    /// The key of a batch object of table Orders on 2026-11-27 starting at `first`.
    fn batch_key(hour: &str, first: &str) -> String {
        format!("audit/table=Orders/dt=2026-11-27/hour={hour}/{first:0>40}.jsonl.gz")
    }

    /// A batch object's metadata: last sequence number and record count.
    fn meta(metadata: &Metadata) -> (&str, usize) {
        (
            metadata[key::LAST_SEQUENCE_NUMBER].as_str(),
            metadata[key::RECORDS].parse().unwrap(),
        )
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
        text
    }

    // Record mode stores one JSON document per record under its record key, and reports
    // no failures.
    #[tokio::test]
    async fn record_mode_writes_one_document_per_record() {
        let sink = Arc::new(MemorySink::new());
        let invocation = handle(&sink, &settings(Mode::Record), &event(&batch(3)), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        let objects = sink.objects();
        assert_eq!(objects.len(), 3);
        let key = format!(
            "audit/table=Orders/item=pk=order%231/{:0>40}-ev101.json",
            "101"
        );
        let stored = &objects[&key];
        assert_eq!(
            (stored.content_type, stored.content_encoding),
            ("application/json", None)
        );
        let doc: Value = serde_json::from_slice(&stored.body).unwrap();
        assert_eq!(doc["event_id"], "ev101");
        let bytes: usize = objects.values().map(|o| o.body.len()).sum();
        assert_eq!(
            invocation.metrics,
            Metrics {
                records: 3,
                changes: 6,
                unreadable_records: 0,
                objects_written: 3,
                duplicates_avoided: 0,
                bytes_written: bytes as u64,
                failed_records: 0,
                oldest_record_age_ms: Some(60_000),
            }
        );
    }

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

    // Several failures are all reported, in batch order, so the lowest comes first.
    #[tokio::test]
    async fn several_failures_are_reported_in_batch_order() {
        let sink = Arc::new(MemorySink::new());
        sink.fail_when(|key| key.ends_with("-ev105.json") || key.ends_with("-ev102.json"));
        let invocation = handle(&sink, &settings(Mode::Record), &event(&batch(6)), NOW).await;
        assert_eq!(failures(&invocation.outcome.unwrap()), ["102", "105"]);
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

    // An unreadable record becomes an error document under unreadable/, is logged, and
    // does not block the records around it.
    #[tokio::test]
    async fn unreadable_record_is_written_as_an_error_document() {
        let sink = Arc::new(MemorySink::new());
        let records = vec![
            insert(101, "a", CREATED),
            poisoned(102),
            insert(103, "b", CREATED),
        ];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        let key = format!("audit/unreadable/{:0>40}-ev102.json", "102");
        let doc: Value = serde_json::from_slice(&sink.objects()[&key].body).unwrap();
        assert_eq!(doc["event_id"], "ev102");
        assert!(doc["error"]["message"].is_string(), "{doc}");
        assert_eq!(doc["raw"], records[1]);
        assert_eq!(invocation.metrics.unreadable_records, 1);
        assert_eq!(sink.objects().len(), 3);
    }

    // An unreadable record with a sequence number whose write fails is reported like any
    // other record.
    #[tokio::test]
    async fn unreadable_record_with_sequence_number_is_reported() {
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("unreadable/");
        let records = vec![insert(101, "a", CREATED), poisoned(102)];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        assert_eq!(failures(&invocation.outcome.unwrap()), ["102"]);
    }

    // An unreadable record without a sequence number is stored under its eventID when the
    // write succeeds...
    #[tokio::test]
    async fn unreadable_record_without_sequence_number_is_stored() {
        let sink = Arc::new(MemorySink::new());
        let records = vec![
            insert(101, "a", CREATED),
            json!({"eventID": "lost", "eventName": "INSERT"}),
        ];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        assert!(
            sink.objects()
                .contains_key("audit/unreadable/noseq-lost.json")
        );
    }

    // ...and fails the whole invocation when that write fails: there is no identifier to
    // report, and reporting success would lose it.
    #[tokio::test]
    async fn unidentifiable_failure_fails_the_invocation() {
        let sink = Arc::new(MemorySink::new());
        sink.fail_containing("unreadable/noseq");
        let records = vec![
            insert(101, "a", CREATED),
            json!({"eventID": "lost", "eventName": "INSERT"}),
        ];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        match invocation.outcome {
            Err(HandlerError::Unidentifiable { event_id, source }) => {
                assert_eq!(event_id.as_deref(), Some("lost"));
                assert!(matches!(source, SinkError::Injected { .. }));
            }
            other => panic!("expected Unidentifiable, got {other:?}"),
        }
        assert_eq!(invocation.metrics.failed_records, 1);
    }

    // Input that is not an event fails as a whole, and nothing is written.
    #[tokio::test]
    async fn non_event_fails_whole_and_writes_nothing() {
        let sink = Arc::new(MemorySink::new());
        for input in [&b"[]"[..], b"{\"Records\": 3}", b"not json"] {
            let invocation = handle(&sink, &settings(Mode::Record), input, NOW).await;
            assert!(
                matches!(invocation.outcome, Err(HandlerError::Event(_))),
                "{input:?}"
            );
        }
        assert!(sink.attempts().is_empty());
    }

    // Batch mode: one gzip JSON Lines object per run of consecutive records of one table
    // and hour, whose lines are exactly the record-mode documents, in stream order.
    #[tokio::test]
    async fn batch_mode_writes_one_object_per_run_of_one_partition() {
        let hour_later = CREATED + 3600;
        let records = vec![
            insert(101, "a", CREATED),
            insert(102, "b", CREATED),
            insert(103, "c", hour_later),
            insert(104, "d", hour_later),
            insert(105, "e", CREATED),
        ];
        let sink = Arc::new(MemorySink::new());
        let invocation = handle(&sink, &settings(Mode::Batch), &event(&records), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        let documents = Arc::new(MemorySink::new());
        handle(&documents, &settings(Mode::Record), &event(&records), NOW)
            .await
            .outcome
            .unwrap();
        let doc_of = |event_id: &str| {
            let (_, object) = documents
                .objects()
                .into_iter()
                .find(|(k, _)| k.ends_with(&format!("-{event_id}.json")))
                .unwrap();
            String::from_utf8(object.body).unwrap()
        };

        let objects = sink.objects();
        let (first, second, third) = (
            batch_key("02", "101"),
            batch_key("03", "103"),
            batch_key("02", "105"),
        );
        assert_eq!(
            objects.keys().collect::<Vec<_>>(),
            [&first, &third, &second]
        );
        // Written one after another, in batch order.
        assert_eq!(
            sink.attempts(),
            [first.clone(), second.clone(), third.clone()]
        );
        let stored = &objects[&first];
        assert_eq!(
            (stored.content_type, stored.content_encoding),
            ("application/x-ndjson", Some("gzip"))
        );
        // Where the object ends is in its metadata, not its name.
        assert_eq!(meta(&stored.metadata), ("102", 2));
        assert_eq!(meta(&objects[&third].metadata), ("105", 1));
        assert_eq!(
            gunzip(&stored.body),
            format!("{}\n{}\n", doc_of("ev101"), doc_of("ev102"))
        );
        assert_eq!(
            gunzip(&objects[&second].body),
            format!("{}\n{}\n", doc_of("ev103"), doc_of("ev104"))
        );
        assert_eq!(
            gunzip(&objects[&third].body),
            format!("{}\n", doc_of("ev105"))
        );
        assert_eq!(
            (
                invocation.metrics.objects_written,
                invocation.metrics.records
            ),
            (3, 5)
        );
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

    // Batch mode writes the same bytes for the same records, so a re-delivery is a
    // duplicate, not a second object.
    #[tokio::test]
    async fn batch_mode_redelivery_is_a_duplicate() {
        let sink = Arc::new(MemorySink::new());
        let input = event(&batch(4));
        handle(&sink, &settings(Mode::Batch), &input, NOW)
            .await
            .outcome
            .unwrap();
        let again = handle(&sink, &settings(Mode::Batch), &input, NOW).await;
        assert_eq!(
            (
                again.metrics.objects_written,
                again.metrics.duplicates_avoided
            ),
            (0, 1)
        );
        assert_eq!(sink.objects().len(), 1);
    }

    // Records without a creation time go to the documented unknown partition.
    #[tokio::test]
    async fn batch_mode_without_creation_time_uses_unknown_partition() {
        let mut record = insert(101, "a", CREATED);
        record["dynamodb"]
            .as_object_mut()
            .unwrap()
            .remove("ApproximateCreationDateTime");
        let sink = Arc::new(MemorySink::new());
        let invocation = handle(&sink, &settings(Mode::Batch), &event(&[record]), NOW).await;
        assert!(failures(&invocation.outcome.unwrap()).is_empty());
        let key = sink.objects().into_keys().next().unwrap();
        assert!(
            key.starts_with("audit/table=Orders/dt=unknown/hour=unknown/"),
            "{key}"
        );
        assert_eq!(invocation.metrics.oldest_record_age_ms, None);
    }

    // The age is measured from the oldest record; a record stamped after "now" (clock
    // skew) does not make it negative.
    #[tokio::test]
    async fn oldest_age_comes_from_the_oldest_record_and_is_never_negative() {
        let sink = Arc::new(MemorySink::new());
        let records = vec![insert(101, "a", CREATED + 30), insert(102, "b", CREATED)];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&records), NOW).await;
        assert_eq!(invocation.metrics.oldest_record_age_ms, Some(60_000));
        let future = vec![insert(103, "c", CREATED + 120)];
        let invocation = handle(&sink, &settings(Mode::Record), &event(&future), NOW).await;
        assert_eq!(invocation.metrics.oldest_record_age_ms, Some(0));
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

    // Without images, documents omit old_image/new_image (the option reaches the renderer).
    #[tokio::test]
    async fn include_images_false_reaches_the_documents() {
        let sink = Arc::new(MemorySink::new());
        let mut no_images = settings(Mode::Record);
        no_images.render.include_images = false;
        handle(&sink, &no_images, &event(&batch(1)), NOW)
            .await
            .outcome
            .unwrap();
        let doc: Value =
            serde_json::from_slice(&sink.objects().into_values().next().unwrap().body).unwrap();
        assert!(
            doc.get("new_image").is_none() && doc.get("old_image").is_none(),
            "{doc}"
        );
    }
}
