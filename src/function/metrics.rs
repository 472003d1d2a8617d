//! One invocation's counters, and their CloudWatch Embedded Metric Format (EMF) line.
//!
//! Lambda sends every stdout line to CloudWatch Logs, which turns an EMF line into metrics
//! without any API call. This module builds the line; it performs no IO and reads no
//! clock (the handler passes `now`).

use serde_json::{Map, Value, json};

use crate::timestamp::Timestamp;

/// The CloudWatch namespace the metrics are published under.
const NAMESPACE: &str = "ddb-audit";

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Stream records received.
    pub records: u64,
    /// Entries in the `changes` of all documents.
    pub changes: u64,
    /// Records that could not be read (written as error documents).
    pub unreadable_records: u64,
    /// Objects stored by this invocation.
    pub objects_written: u64,
    /// Objects already present (a re-delivery), not written again.
    pub duplicates_avoided: u64,
    /// Bytes of the objects stored (as sent: compressed in batch mode).
    pub bytes_written: u64,
    /// Records whose document is not in S3 (reported back for re-delivery).
    pub failed_records: u64,
    /// Of the failed records, those whose writes were never started or were abandoned
    /// because the invocation's deadline was near.
    pub deferred_records: u64,
    /// Now minus the oldest approximate creation time of the batch, in milliseconds.
    pub oldest_record_age_ms: Option<i64>,
}

impl Metrics {
    /// The counters as `(name, value)`, in the order they are published.
    fn counters(&self) -> [(&'static str, u64); 8] {
        [
            ("Records", self.records),
            ("Changes", self.changes),
            ("UnreadableRecords", self.unreadable_records),
            ("ObjectsWritten", self.objects_written),
            ("DuplicatesAvoided", self.duplicates_avoided),
            ("BytesWritten", self.bytes_written),
            ("FailedRecords", self.failed_records),
            ("DeferredRecords", self.deferred_records),
        ]
    }

    /// The EMF JSON line (no trailing newline), dimensioned by function name.
    pub(crate) fn to_emf(&self, function_name: &str, now: Timestamp) -> String {
        let mut definitions = Vec::new();
        let mut root = Map::new();
        for (name, value) in self.counters() {
            let unit = if name == "BytesWritten" {
                "Bytes"
            } else {
                "Count"
            };
            definitions.push(json!({"Name": name, "Unit": unit}));
            root.insert(name.to_owned(), json!(value));
        }
        if let Some(age) = self.oldest_record_age_ms {
            definitions.push(json!({"Name": "OldestRecordAgeMs", "Unit": "Milliseconds"}));
            root.insert("OldestRecordAgeMs".to_owned(), json!(age));
        }
        root.insert("FunctionName".to_owned(), json!(function_name));
        root.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": now.unix_millis,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["FunctionName"]],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The line is a valid EMF document: every declared metric has a numeric root value,
    // and the dimension is present.
    #[test]
    fn emf_line_declares_every_metric_it_carries() {
        let metrics = Metrics {
            records: 10,
            changes: 25,
            unreadable_records: 1,
            objects_written: 8,
            duplicates_avoided: 1,
            bytes_written: 4096,
            failed_records: 1,
            deferred_records: 1,
            oldest_record_age_ms: Some(1500),
        };
        let line = metrics.to_emf(
            "fn",
            Timestamp {
                unix_millis: 1_795_746_700_000,
            },
        );
        assert!(!line.contains('\n'));
        let doc: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc["_aws"]["Timestamp"], 1_795_746_700_000_i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ddb-audit");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(doc["FunctionName"], "fn");
        let declared: Vec<(String, Value)> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Name"].as_str().unwrap().to_owned(),
                    doc[m["Name"].as_str().unwrap()].clone(),
                )
            })
            .collect();
        assert_eq!(
            declared,
            [
                ("Records", json!(10)),
                ("Changes", json!(25)),
                ("UnreadableRecords", json!(1)),
                ("ObjectsWritten", json!(8)),
                ("DuplicatesAvoided", json!(1)),
                ("BytesWritten", json!(4096)),
                ("FailedRecords", json!(1)),
                ("DeferredRecords", json!(1)),
                ("OldestRecordAgeMs", json!(1500)),
            ]
            .map(|(n, v)| (n.to_owned(), v))
        );
    }

    // Without a creation time there is no age: the metric is left out rather than faked.
    #[test]
    fn age_is_omitted_when_unknown() {
        let line = Metrics::default().to_emf("fn", Timestamp { unix_millis: 0 });
        let doc: Value = serde_json::from_str(&line).unwrap();
        assert!(doc.get("OldestRecordAgeMs").is_none());
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            8
        );
    }
}
