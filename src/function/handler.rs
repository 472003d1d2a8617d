//! One Lambda invocation: a DynamoDB Streams batch in, a partial batch response out. It
//! reads as its sentence: plan the objects (`plan`), write them (`write`), answer Lambda.
//!
//! Only the writing touches the sink it is given, so the failure paths are tested with
//! [`crate::store::sink::MemorySink`]. The clock is a parameter. This module never talks
//! to the Lambda runtime or to S3 directly.
//!
//! The rule it keeps: a record is reported as processed only if its document is in the
//! bucket (written now or by an earlier delivery). Every other record's `SequenceNumber`
//! goes into `batchItemFailures`; Lambda re-delivers from the lowest one reported, and
//! everything after it comes again.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::document::{RenderOptions, Rendered};
use crate::event::{EventError, read_event};
use crate::function::config::{Config, Mode};
use crate::function::deadline::Budget;
use crate::function::metrics::Metrics;
use crate::function::plan::{Plan, plan};
pub use crate::function::write::{Unrecognised, WriteError};
use crate::function::write::{Unstored, write};
use crate::store::sink::Sink;
use crate::timestamp::Timestamp;
use tokio::time::Instant;

/// What the handler needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub prefix: String,
    pub mode: Mode,
    pub render: RenderOptions,
    /// Writes in flight at once (at least 1).
    pub max_concurrency: usize,
    /// The time one write needs (the S3 operation timeout): no write starts with less left
    /// before the invocation's deadline.
    pub write_margin: Duration,
}

impl From<&Config> for Settings {
    fn from(config: &Config) -> Self {
        Self {
            prefix: config.prefix.clone(),
            mode: config.mode,
            // The redaction needs the secret, read by the binary at cold start.
            render: RenderOptions {
                include_images: config.include_images,
                redaction: None,
            },
            max_concurrency: config.max_concurrency,
            write_margin: config.s3_timeouts.operation,
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
        source: WriteError,
    },
}

/// The result of one invocation and its metrics (published either way).
#[derive(Debug)]
pub struct Invocation {
    pub metrics: Metrics,
    pub outcome: Result<DynamoDbEventResponse, HandlerError>,
}

/// Handles one invocation with no deadline (as `recover` does): writes every record's
/// document and reports the ones not stored.
pub async fn handle<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    now: Timestamp,
) -> Invocation {
    handle_within(sink, settings, event, now, &Budget::unlimited()).await
}

/// Handles one invocation within `budget`: writes every record's document it has time
/// for, and reports the ones not stored, those it had no time for included.
pub async fn handle_within<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    now: Timestamp,
    budget: &Budget,
) -> Invocation {
    let rendered = match render(event, &settings.render) {
        Ok(rendered) => rendered,
        Err(error) => {
            return Invocation {
                metrics: Metrics::default(),
                outcome: Err(error.into()),
            };
        }
    };
    let Plan {
        objects,
        mut metrics,
    } = plan(rendered, &settings.prefix, settings.mode, now);
    let unstored = write(
        sink,
        objects,
        settings.max_concurrency,
        budget,
        &mut metrics,
    )
    .await;
    let outcome = answer(unstored, &mut metrics);
    Invocation { metrics, outcome }
}

/// Reads and renders the event in one pass. The renderings are only used once the whole
/// event has proved to be an event, so a malformed one writes nothing.
fn render<'a>(event: &'a [u8], options: &RenderOptions) -> Result<Vec<Rendered<'a>>, EventError> {
    let mut rendered = Vec::new();
    read_event(event, options, |r| rendered.push(r))?;
    Ok(rendered)
}

/// The partial batch response for what the writes left undone: every unstored record's
/// sequence number, in batch order; or the whole invocation failed, when an unstored
/// record has none to report.
fn answer(
    unstored: Unstored,
    metrics: &mut Metrics,
) -> Result<DynamoDbEventResponse, HandlerError> {
    metrics.failed_records = unstored.records.len() as u64;
    metrics.deferred_records = unstored.deferred as u64;
    if unstored.deferred > 0 {
        tracing::warn!(
            records = unstored.deferred,
            "the invocation's deadline is near: records left for the re-delivery"
        );
    }
    if let Some((event_id, source)) = unstored.unidentifiable {
        return Err(HandlerError::Unidentifiable { event_id, source });
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
    Ok(response)
}

/// [`handle_within`] the invocation's `deadline`, then the metrics line printed to stdout
/// (where CloudWatch reads EMF) and the outcome logged.
pub async fn invoke<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    (now, deadline): (Timestamp, Instant),
    function_name: &str,
) -> Result<DynamoDbEventResponse, HandlerError> {
    let budget = Budget::until(deadline, settings.write_margin);
    if budget.too_short_for_any_call(Instant::now()) {
        // A function timeout below the S3 operation timeout never writes anything: say so
        // on every invocation rather than let the shard stall quietly.
        tracing::error!(
            time_left_ms = deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
            write_margin_ms = settings.write_margin.as_millis() as u64,
            "too little time for even one write: raise the function's timeout above \
             AUDIT_S3_OPERATION_TIMEOUT_MS plus a second, or lower that setting"
        );
    }
    let Invocation { metrics, outcome } = handle_within(sink, settings, event, now, &budget).await;
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::function::testing::*;
    use crate::store::sink::{MemorySink, SinkError};

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
                deferred_records: 0,
                oldest_record_age_ms: Some(60_000),
            }
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
                assert!(matches!(source, WriteError::Sink(SinkError::S3 { .. })));
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

    // --- the deadline ------------------------------------------------------------------

    use std::time::Duration;

    use tokio::time::Instant;

    use crate::function::deadline::ANSWER_RESERVE;

    /// A budget ending `seconds` from now, with the test settings' 10 s margin.
    fn budget_of(seconds: u64) -> (Budget, Instant) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        (
            Budget::until(deadline, settings(Mode::Record).write_margin),
            deadline,
        )
    }

    // A write that never answers does not hold the invocation: it answers at the cutoff,
    // before the deadline, reporting exactly that record; the others are stored.
    #[tokio::test(start_paused = true)]
    async fn a_silent_s3_is_abandoned_before_the_deadline() {
        let sink = Arc::new(MemorySink::new());
        sink.answer_after_when(None, |key| key.ends_with("-ev103.json"));
        let (budget, deadline) = budget_of(30);
        let input = event(&batch(5));
        let invocation = handle_within(&sink, &settings(Mode::Record), &input, NOW, &budget).await;
        assert_eq!(Instant::now(), deadline - ANSWER_RESERVE);
        assert_eq!(failures(&invocation.outcome.unwrap()), ["103"]);
        assert_eq!(sink.objects().len(), 4);
        assert_eq!(
            (
                invocation.metrics.failed_records,
                invocation.metrics.deferred_records
            ),
            (1, 1)
        );
    }

    // With a slow S3, writes start while one write's margin is left and no later; the
    // records never started are reported, and the answer comes well before the deadline.
    #[tokio::test(start_paused = true)]
    async fn a_slow_s3_stops_new_writes_a_margin_before_the_deadline() {
        let sink = Arc::new(MemorySink::new());
        sink.answer_after_when(Some(Duration::from_secs(4)), |_| true);
        let mut one_at_a_time = settings(Mode::Record);
        one_at_a_time.max_concurrency = 1;
        let (budget, deadline) = budget_of(30);
        let start = Instant::now();
        let input = event(&batch(10));
        let invocation = handle_within(&sink, &one_at_a_time, &input, NOW, &budget).await;
        // Writes start at 0, 4, 8, 12 and 16 s; at 20 s only 9.5 s is left before the cutoff.
        assert_eq!(Instant::now() - start, Duration::from_secs(20));
        assert!(Instant::now() < deadline);
        assert_eq!(
            failures(&invocation.outcome.unwrap()),
            ["106", "107", "108", "109", "110"]
        );
        assert_eq!(sink.attempts().len(), 5);
        assert_eq!(invocation.metrics.deferred_records, 5);
        assert_eq!(invocation.metrics.objects_written, 5);
    }

    // Batch mode keeps its run rule at the deadline: the object held in flight is
    // abandoned, and every record from its first on is reported; nothing later is written.
    #[tokio::test(start_paused = true)]
    async fn batch_mode_at_the_deadline_reports_from_the_first_unwritten_object() {
        let sink = Arc::new(MemorySink::new());
        // Three hours, so three objects: 101-102, 103-104, 105.
        let records = vec![
            insert(101, "a", CREATED),
            insert(102, "b", CREATED),
            insert(103, "c", CREATED + 3600),
            insert(104, "d", CREATED + 3600),
            insert(105, "e", CREATED + 7200),
        ];
        sink.answer_after_when(None, |key| key.contains("hour=03/"));
        let (budget, deadline) = budget_of(15);
        let invocation = handle_within(
            &sink,
            &settings(Mode::Batch),
            &event(&records),
            NOW,
            &budget,
        )
        .await;
        assert_eq!(Instant::now(), deadline - ANSWER_RESERVE);
        assert_eq!(
            failures(&invocation.outcome.unwrap()),
            ["103", "104", "105"]
        );
        let keys: Vec<String> = sink.objects().into_keys().collect();
        assert_eq!(keys, [batch_key("02", "101")]);
        assert_eq!(invocation.metrics.deferred_records, 3);
    }

    // An invocation with less time than one write needs writes nothing and reports every
    // record, at once: Lambda re-delivers them instead of timing out.
    #[tokio::test(start_paused = true)]
    async fn too_little_time_writes_nothing_and_reports_everything() {
        for mode in [Mode::Record, Mode::Batch] {
            let sink = Arc::new(MemorySink::new());
            let (budget, _) = budget_of(5);
            let start = Instant::now();
            let invocation =
                handle_within(&sink, &settings(mode), &event(&batch(3)), NOW, &budget).await;
            assert_eq!(Instant::now(), start);
            assert_eq!(
                failures(&invocation.outcome.unwrap()),
                ["101", "102", "103"],
                "{mode:?}"
            );
            assert!(sink.attempts().is_empty());
        }
    }
}
