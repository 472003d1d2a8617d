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

use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_smithy_types::error::display::DisplayErrorContext;

use crate::document::{RenderOptions, Rendered};
use crate::event::{EventError, read_event};
use crate::function::config::{Config, Mode};
use crate::function::metrics::Metrics;
use crate::function::plan::{Plan, plan};
pub use crate::function::write::{Unrecognised, WriteError};
use crate::function::write::{Unstored, write};
use crate::store::sink::Sink;
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
            // The redaction needs the secret, read by the binary at cold start.
            render: RenderOptions {
                include_images: config.include_images,
                redaction: None,
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
        source: WriteError,
    },
}

/// The result of one invocation and its metrics (published either way).
#[derive(Debug)]
pub struct Invocation {
    pub metrics: Metrics,
    pub outcome: Result<DynamoDbEventResponse, HandlerError>,
}

/// Handles one invocation: writes every record's document and reports the ones not stored.
pub async fn handle<S: Sink>(
    sink: &Arc<S>,
    settings: &Settings,
    event: &[u8],
    now: Timestamp,
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
    let unstored = write(sink, objects, settings.max_concurrency, &mut metrics).await;
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
}
