//! The plan of one batch: which object holds which records, under which key, with which
//! bytes. This module is pure: no IO, no sink, no clock (`now` is a parameter).
//!
//! The mode is decided here, once: a record-mode plan is a list of independent objects, a
//! batch-mode plan a list of objects in batch order, and the writer follows the plan's kind.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::document::Rendered;
use crate::function::config::Mode;
use crate::function::metrics::Metrics;
use crate::key;
use crate::record::StreamRecord;
use crate::store::sink::{Metadata, Object};
use crate::timestamp::Timestamp;

/// A record an object holds: what to report if the object is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Member {
    /// Position in the batch, for reporting in batch order.
    pub(super) index: usize,
    pub(super) sequence_number: Option<String>,
    pub(super) event_id: Option<String>,
}

/// An object holding one document: a record-mode document, or an unreadable record's
/// error document (either mode).
#[derive(Debug)]
pub(super) struct Single {
    pub(super) object: Object,
    pub(super) member: Member,
}

/// A batch-mode partition: table, `dt`, `hour`.
type Partition = (String, String, String);

/// A batch-mode run: a maximal run of consecutive records (in batch order) of one
/// partition, and their documents.
#[derive(Debug)]
pub(super) struct Run {
    prefix: String,
    partition: Partition,
    pub(super) members: Vec<Member>,
    lines: Vec<Vec<u8>>,
}

impl Run {
    /// The object holding the run's records from `start` on: named after the first of
    /// them, with the last one's sequence number and their count as metadata.
    pub(super) fn object(&self, start: usize) -> Object {
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
            key: key::batch_key(&self.prefix, table, dt, hour, &seq(self.members.get(start))),
            body: gzip_lines(self.lines[start..].iter().map(Vec::as_slice)),
            content_type: key::JSON_LINES,
            content_encoding: Some(key::GZIP),
            metadata,
        }
    }
}

/// One object of a batch-mode plan, with the records it holds.
#[derive(Debug)]
pub(super) enum Planned {
    /// An unreadable record's error document.
    Single(Single),
    /// A run of one partition.
    Run(Run),
}

/// The objects to write for one batch, of the configured mode.
#[derive(Debug)]
pub(super) enum Objects {
    /// Record mode: one object per record, each under a key of its own, so they are
    /// independent of each other.
    Record(Vec<Single>),
    /// Batch mode: the objects in batch order, each a range of the batch.
    Batch(Vec<Planned>),
}

impl Objects {
    fn new(mode: Mode) -> Self {
        match mode {
            Mode::Record => Self::Record(Vec::new()),
            Mode::Batch => Self::Batch(Vec::new()),
        }
    }

    /// Adds a readable record's document: its own object in record mode, the end of a
    /// run in batch mode.
    fn add_document(
        &mut self,
        prefix: &str,
        record: &StreamRecord<'_>,
        member: Member,
        json: Vec<u8>,
    ) {
        match self {
            Self::Record(objects) => objects.push(Single {
                object: Object {
                    key: key::record_key(prefix, record),
                    body: json,
                    content_type: key::JSON,
                    content_encoding: None,
                    metadata: Metadata::new(),
                },
                member,
            }),
            Self::Batch(objects) => {
                let (dt, hour) = key::batch_partition(record.approximate_creation_time);
                let partition = (record.table.clone(), dt, hour);
                // A run only grows while consecutive records share a partition, so each
                // object is a range of the batch and the batch's objects are ordered like
                // its records.
                match objects.last_mut() {
                    Some(Planned::Run(run)) if run.partition == partition => {
                        run.members.push(member);
                        run.lines.push(json);
                    }
                    _ => objects.push(Planned::Run(Run {
                        prefix: prefix.to_owned(),
                        partition,
                        members: vec![member],
                        lines: vec![json],
                    })),
                }
            }
        }
    }

    /// Adds an object of its own (an unreadable record's); in batch mode it also ends the
    /// run before it.
    fn add_single(&mut self, single: Single) {
        match self {
            Self::Record(objects) => objects.push(single),
            Self::Batch(objects) => objects.push(Planned::Single(single)),
        }
    }
}

/// The objects to write for one batch, in batch order, and the metrics planning counted.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) objects: Objects,
    pub(super) metrics: Metrics,
}

/// Decides the objects for a batch's rendered records, in batch order: pure.
pub(super) fn plan(records: Vec<Rendered<'_>>, prefix: &str, mode: Mode, now: Timestamp) -> Plan {
    let mut metrics = Metrics {
        records: records.len() as u64,
        ..Metrics::default()
    };
    let mut objects = Objects::new(mode);
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
                objects.add_document(prefix, &record, member, json);
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
                objects.add_single(Single {
                    object: Object {
                        key: key::unreadable_key(
                            prefix,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::Value;

    use crate::function::config::Mode;
    use crate::function::handler::handle;
    use crate::function::testing::*;
    use crate::store::sink::MemorySink;

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
}
