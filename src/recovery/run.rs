//! `ddb-audit recover`: every message of the failure queue, its range read back from the
//! stream and written as the function writes it, then the message deleted. The only module
//! of `recover` that talks to SQS; the stream is read by [`super::stream`], the documents
//! are planned and written by the function's own handler (same keys, so a document already
//! stored costs a `412`), through the same sink.

use std::io::Write;
use std::sync::Arc;

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::delete_message::DeleteMessageError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde_json::{Value, json};

use crate::function::config::Mode;
use crate::function::handler::{self, Settings};
use crate::recovery::range::{self, Missing, Range};
use crate::recovery::stream::{self, StreamError};
use crate::store::sink::{Object, S3Sink, Sink};
use crate::store::{self, InvalidSetting, S3Timeouts};
use crate::timestamp::Timestamp;

/// How long a received message stays hidden from other readers while its range is
/// recovered.
const VISIBILITY_SECONDS: i32 = 900;

/// The three services `recover` talks to.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub streams: aws_sdk_dynamodbstreams::Client,
}

/// What `recover` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub queue_url: String,
    /// The bucket, for the messages it prints.
    pub bucket: String,
    /// The function's settings: prefix, mode, images (the deadline plays no part).
    pub settings: Settings,
}

/// A failure that stops `recover` (a message that cannot be recovered is reported and
/// left in the queue instead).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("ReceiveMessage on {queue_url} failed")]
    Receive {
        queue_url: String,
        #[source]
        source: Box<SdkError<ReceiveMessageError>>,
    },
    #[error(
        "DeleteMessage on {queue_url} failed (its range is recovered; deleting it again is safe)"
    )]
    Delete {
        queue_url: String,
        #[source]
        source: Box<SdkError<DeleteMessageError>>,
    },
    #[error("cannot write the report")]
    Output(#[source] std::io::Error),
    #[error(transparent)]
    Setting(#[from] InvalidSetting),
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub messages: usize,
    /// Messages whose range is now in the bucket (whole, or with its gap recorded).
    pub recovered: usize,
    pub records: u64,
    pub objects_written: u64,
    pub already_stored: u64,
    /// Ranges the stream no longer held in full.
    pub gaps: usize,
    /// Messages left in the queue: unreadable, or their range could not be written.
    pub failed: usize,
}

impl Summary {
    /// 0: everything recovered; 2: gaps were found (and recorded); 1: messages were left
    /// in the queue.
    pub fn exit_status(&self) -> i32 {
        if self.failed > 0 {
            1
        } else if self.gaps > 0 {
            2
        } else {
            0
        }
    }
}

/// What became of one message.
enum Outcome {
    /// Its range is in the bucket; `missing` is what the stream no longer held (recorded
    /// as a gap under `gap_key`).
    Recovered {
        records: u64,
        written: u64,
        already: u64,
        missing: Vec<Missing>,
        gap_key: Option<String>,
    },
    /// Left in the queue.
    Failed(String),
}

/// Recovers every message in the queue. `progress` (a terminal, or nothing) is told how
/// far it got; `out` gets one line per message and a summary.
pub async fn recover<S: Sink>(
    clients: &Clients,
    sink: &Arc<S>,
    options: &Options,
    now: impl Fn() -> Timestamp,
    out: &mut impl Write,
    progress: &mut Option<&mut dyn Write>,
) -> Result<Summary, RecoverError> {
    let mut summary = Summary::default();
    let mut left: Vec<String> = Vec::new();
    loop {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(&options.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(VISIBILITY_SECONDS)
            .send()
            .await
            .map_err(|e| RecoverError::Receive {
                queue_url: options.queue_url.clone(),
                source: Box::new(e),
            })?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            summary.messages += 1;
            let body = message.body().unwrap_or_default();
            let (label, outcome) = match Range::from_message(body) {
                Ok(range) => (
                    describe(&range),
                    recover_range(&clients.streams, sink, options, &range, now()).await,
                ),
                Err(error) => (
                    format!("message {}", message.message_id().unwrap_or("?")),
                    Outcome::Failed(format!("{}", DisplayErrorContext(&error))),
                ),
            };
            let line = report(&mut summary, &label, &outcome, &options.bucket);
            writeln!(out, "{line}").map_err(RecoverError::Output)?;
            match outcome {
                Outcome::Recovered { .. } => {
                    if let Some(handle) = message.receipt_handle() {
                        clients
                            .sqs
                            .delete_message()
                            .queue_url(&options.queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .map_err(|e| RecoverError::Delete {
                                queue_url: options.queue_url.clone(),
                                source: Box::new(e),
                            })?;
                    }
                }
                Outcome::Failed(_) => left.extend(message.receipt_handle().map(str::to_owned)),
            }
            if let Some(progress) = progress.as_mut() {
                let _ = writeln!(
                    progress,
                    "recover: {} messages, {} records, {} gaps, {} left in the queue",
                    summary.messages, summary.records, summary.gaps, summary.failed
                );
            }
        }
    }
    // Messages left in the queue become visible again at once, for the next run.
    for handle in left {
        let made_visible = clients
            .sqs
            .change_message_visibility()
            .queue_url(&options.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
        if let Err(error) = made_visible {
            tracing::warn!(error = %DisplayErrorContext(&error), "could not make a message visible again");
        }
    }
    writeln!(out, "{}", summary_line(&summary)).map_err(RecoverError::Output)?;
    Ok(summary)
}

/// `ddb-audit recover`: builds the clients from the SDK's environment (as the function
/// does: `AWS_ENDPOINT_URL_S3`, `AUDIT_S3_FORCE_PATH_STYLE` and the S3 timeouts apply) and
/// recovers every message of `queue_url` into `bucket` under `prefix`, as the function in
/// `mode` rendering with `render` (images, redaction) would write it.
pub async fn command(
    queue_url: &str,
    bucket: &str,
    prefix: &str,
    mode: Mode,
    render: crate::document::RenderOptions,
    out: &mut impl Write,
    progress: &mut Option<&mut dyn Write>,
) -> Result<Summary, RecoverError> {
    let env = |name: &str| std::env::var(name).ok();
    let force_path_style = store::force_path_style(env)?;
    let timeouts = S3Timeouts::from_lookup(env)?;
    let shared = store::sdk_config().await;
    let clients = Clients {
        sqs: aws_sdk_sqs::Client::new(&shared),
        streams: aws_sdk_dynamodbstreams::Client::new(&shared),
    };
    let sink = Arc::new(S3Sink::new(
        store::writer_client(
            aws_sdk_s3::config::Builder::from(&shared),
            force_path_style,
            timeouts,
        ),
        bucket,
    ));
    let mut prefix = prefix.to_owned();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    let options = Options {
        queue_url: queue_url.to_owned(),
        bucket: bucket.to_owned(),
        settings: Settings {
            prefix,
            mode,
            render,
            max_concurrency: 32,
            write_margin: timeouts.operation,
        },
    };
    recover(&clients, &sink, &options, crate::clock::now, out, progress).await
}

/// Reads one range back and writes it; records what the stream no longer held.
async fn recover_range<S: Sink>(
    streams: &aws_sdk_dynamodbstreams::Client,
    sink: &Arc<S>,
    options: &Options,
    range: &Range,
    now: Timestamp,
) -> Outcome {
    let (records, missing, detail) = match stream::read(streams, range).await {
        Ok(read) => {
            let seqs: Vec<&str> = read
                .records
                .iter()
                .filter_map(|r| r["dynamodb"]["SequenceNumber"].as_str())
                .collect();
            let missing = range::missing(range, &seqs, read.complete);
            (read.records, missing, None)
        }
        Err(StreamError::Gone { reason, source }) => (
            Vec::new(),
            range::all_missing(reason),
            Some(format!("{}", DisplayErrorContext(source.as_ref()))),
        ),
        Err(error) => return Outcome::Failed(format!("{}", DisplayErrorContext(&error))),
    };
    let count = records.len() as u64;
    let (mut written, mut already) = (0, 0);
    if !records.is_empty() {
        let records: Vec<Value> = records
            .into_iter()
            .map(|r| range::as_delivered(r, &range.stream_arn))
            .collect();
        let event = json!({ "Records": records }).to_string();
        let invocation = handler::handle(sink, &options.settings, event.as_bytes(), now).await;
        match invocation.outcome {
            Ok(response) if response.batch_item_failures.is_empty() => {
                written = invocation.metrics.objects_written;
                already = invocation.metrics.duplicates_avoided;
            }
            Ok(response) => {
                return Outcome::Failed(format!(
                    "{} of {count} records could not be written (see the log); run recover again",
                    response.batch_item_failures.len()
                ));
            }
            Err(error) => return Outcome::Failed(format!("{}", DisplayErrorContext(&error))),
        }
    }
    let gap_key = if missing.is_empty() {
        None
    } else {
        let key = range::gap_key(&options.settings.prefix, range);
        let record = range::gap_record(range, &missing, count as usize, detail.as_deref(), now);
        let object = Object {
            key: key.clone(),
            body: record.to_string().into_bytes(),
            content_type: crate::key::JSON,
            content_encoding: None,
            metadata: Default::default(),
        };
        if let Err(error) = sink.put(object).await {
            return Outcome::Failed(format!(
                "the stream no longer holds part of the range, and its gap record could not be written: {}",
                DisplayErrorContext(&error)
            ));
        }
        Some(key)
    };
    Outcome::Recovered {
        records: count,
        written,
        already,
        missing,
        gap_key,
    }
}

fn describe(range: &Range) -> String {
    format!(
        "{} {} {}..{}",
        range.table(),
        range.shard_id,
        range.start,
        range.end
    )
}

/// The report line of one message, counted into `summary`.
fn report(summary: &mut Summary, label: &str, outcome: &Outcome, bucket: &str) -> String {
    match outcome {
        Outcome::Recovered {
            records,
            written,
            already,
            missing,
            gap_key,
        } => {
            summary.recovered += 1;
            summary.records += records;
            summary.objects_written += written;
            summary.already_stored += already;
            let mut line = format!(
                "recovered {label}: {records} records ({written} objects written, {already} already stored)"
            );
            if let Some(key) = gap_key {
                summary.gaps += 1;
                let reasons: Vec<&str> = missing.iter().map(|m| m.reason.describe()).collect();
                line = format!(
                    "GAP {label}: {}; {records} records recovered; gap recorded at s3://{bucket}/{key}",
                    reasons.join("; ")
                );
            }
            line
        }
        Outcome::Failed(reason) => {
            summary.failed += 1;
            format!("LEFT IN QUEUE {label}: {reason}")
        }
    }
}

fn summary_line(summary: &Summary) -> String {
    format!(
        "{} messages: {} recovered ({} records, {} objects written, {} already stored), {} with gaps, {} left in the queue",
        summary.messages,
        summary.recovered,
        summary.records,
        summary.objects_written,
        summary.already_stored,
        summary.gaps,
        summary.failed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::range::Reason;

    // A recovered range, a gap and a message left behind are each one line, and the exit
    // status says the worst: left in the queue, then gaps, then nothing.
    #[test]
    fn report_lines_and_exit_status() {
        let mut summary = Summary::default();
        let whole = Outcome::Recovered {
            records: 3,
            written: 2,
            already: 1,
            missing: vec![],
            gap_key: None,
        };
        assert_eq!(
            report(&mut summary, "Orders s 1..3", &whole, "b"),
            "recovered Orders s 1..3: 3 records (2 objects written, 1 already stored)"
        );
        assert_eq!(summary.exit_status(), 0);
        let gap = Outcome::Recovered {
            records: 0,
            written: 0,
            already: 0,
            missing: range::all_missing(Reason::Trimmed),
            gap_key: Some("audit/gaps/k.json".to_owned()),
        };
        let line = report(&mut summary, "Orders s 4..6", &gap, "b");
        assert!(line.starts_with("GAP Orders s 4..6: "), "{line}");
        assert!(
            line.ends_with("gap recorded at s3://b/audit/gaps/k.json"),
            "{line}"
        );
        assert_eq!(summary.exit_status(), 2);
        let failed = Outcome::Failed("S3 is down".to_owned());
        assert_eq!(
            report(&mut summary, "Orders s 7..9", &failed, "b"),
            "LEFT IN QUEUE Orders s 7..9: S3 is down"
        );
        assert_eq!(summary.exit_status(), 1);
        summary.messages = 3;
        assert_eq!(
            summary_line(&summary),
            "3 messages: 2 recovered (3 records, 2 objects written, 1 already stored), 1 with gaps, 1 left in the queue"
        );
    }
}
