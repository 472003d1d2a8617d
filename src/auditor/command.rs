//! The auditor's commands (`history`, `replay`, `verify`): argument meaning to output.
//!
//! Each command reads the bucket through the [`Bucket`] port it is given, hands the objects
//! to the pure modules ([`trail`], [`timeline`], [`replay`](mod@replay), [`verify`](mod@verify)) and writes what they
//! say to the given outputs. The binary only parses arguments, builds the S3 adapter, and
//! turns a [`CommandError`] into one line on stderr and an exit status.

use std::io::Write;
use std::sync::Arc;

use crate::auditor::keyarg::{self, KeyArgError};
use crate::auditor::plain;
use crate::auditor::replay::{self, State};
use crate::auditor::scan;
use crate::auditor::timeline;
use crate::auditor::trail::{self, Entry, Problem};
use crate::auditor::verify;
use crate::auditor::window::{InvestigateError, MAX_OBJECTS, Window};
use crate::document::Stored;
use crate::key;
use crate::redaction::Redactor;
use crate::store::bucket::{Bucket, BucketError};
use crate::timestamp::Timestamp;
use crate::value::{Item, item_eq};

/// Exit status when the command ran but found problems (verify) or doubts (replay).
pub const EXIT_FINDINGS: i32 = 2;

/// Why a command could not give an answer. Each displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("--key: {0}")]
    Key(#[from] KeyArgError),
    #[error(
        "--at: {text:?} is not an RFC 3339 time{hint} (e.g. 2026-11-27T14:00:00Z or 2026-11-27T14:00:00.000+09:00)"
    )]
    Time { text: String, hint: &'static str },
    #[error("{0}")]
    Bucket(#[from] BucketError),
    #[error("{0}")]
    Investigate(#[from] InvestigateError),
    #[error(
        "no audit records for this key in the batch-mode partitions under s3://{bucket}/{table_prefix} ({window}) (check --table, --key and --since/--until; its types matter: the string \"7\" is not the number 7; at scale, query with Athena: docs/athena.md)"
    )]
    BatchMode {
        bucket: String,
        table_prefix: String,
        window: String,
    },
    #[error("no audit records for table {table:?} under s3://{bucket}/{prefix}{hint}")]
    NoTable {
        bucket: String,
        prefix: String,
        table: String,
        hint: String,
    },
    #[error(
        "no audit records for this key under s3://{bucket}/{item_prefix} (check --table and --key{hint}; its types matter: the string \"7\" is not the number 7)"
    )]
    NoItem {
        bucket: String,
        item_prefix: String,
        hint: String,
    },
    #[error("{0}")]
    Setting(String),
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Where to look: the bucket and the function's `AUDIT_PREFIX`; in batch mode, also the
/// time window whose partitions are read (`None`: every partition) and how many objects
/// may be read without `--yes` (`None`: no limit).
#[derive(Debug, Clone)]
pub struct Location {
    pub bucket: String,
    pub prefix: String,
    pub window: Option<Window>,
    pub max_objects: Option<usize>,
}

impl Location {
    /// `prefix` as the function normalises `AUDIT_PREFIX`: a trailing `/` added when missing.
    pub fn new(bucket: &str, prefix: &str) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self {
            bucket: bucket.to_owned(),
            prefix,
            window: None,
            max_objects: Some(MAX_OBJECTS),
        }
    }

    /// The same location, reading only the batch-mode partitions of `window`.
    pub fn within(mut self, window: Option<Window>) -> Self {
        self.window = window;
        self
    }
}

/// One item: its table and its `--key` text.
#[derive(Debug, Clone)]
pub struct ItemRef {
    pub table: String,
    pub key: String,
    /// The deployment's redaction, when its key attributes may be withheld: the key is
    /// then looked up by its tokens, as the function stored it.
    pub redaction: Option<Arc<Redactor>>,
}

/// Parses `--at`: RFC 3339, or `now` (the caller's clock, passed in).
pub fn parse_at(text: &str, now: Timestamp) -> Result<Timestamp, CommandError> {
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    Timestamp::parse_rfc3339(text).ok_or_else(|| CommandError::Time {
        text: text.to_owned(),
        hint: time_hint(text),
    })
}

/// What is most likely missing from a time that does not parse: a time without a zone is
/// the common slip (RFC 3339 requires one).
fn time_hint(text: &str) -> &'static str {
    let with_zone = Timestamp::parse_rfc3339(&format!("{text}Z")).is_some();
    if with_zone {
        ": add `Z` (UTC) or an offset such as +09:00"
    } else {
        ""
    }
}

/// When the table's items are keyed by other attributes than `--key` names, which ones
/// (read from the first item prefix whose key is readable).
fn key_names_hint(item_prefixes: &[String], key_text: &str) -> String {
    let names = |item: &Item<'_>| {
        item.iter()
            .map(|(name, _)| name.to_owned())
            .collect::<Vec<_>>()
    };
    let given = keyarg::parse(key_text)
        .map(|k| names(&k))
        .unwrap_or_default();
    let found = item_prefixes
        .iter()
        .find_map(|prefix| key::item_of_object_key(prefix))
        .map(|item| names(&item));
    match found {
        Some(found) if found != given => {
            format!(
                ": this table's items have the key attributes {}",
                found.join(", ")
            )
        }
        _ => String::new(),
    }
}

/// The tables the function wrote under `prefix` (its `table=` folders).
pub(crate) async fn table_names<B: Bucket>(
    bucket: &B,
    prefix: &str,
) -> Result<Vec<String>, BucketError> {
    Ok(bucket
        .list_prefixes(prefix, "/")
        .await?
        .into_iter()
        .filter_map(|p| {
            p[prefix.len()..]
                .strip_prefix("table=")
                .map(|t| t.trim_end_matches('/').to_owned())
        })
        .collect())
}

/// Explains why an item's prefix is empty: no bucket, batch mode, unknown table or key.
async fn explain_missing<B: Bucket>(
    bucket: &B,
    at: &Location,
    item: &ItemRef,
    item_prefix: String,
) -> CommandError {
    let explained = async {
        bucket.check().await?;
        let table_prefix = key::table_prefix(&at.prefix, &item.table);
        let below = bucket.list_prefixes(&table_prefix, "/").await?;
        let rest = |p: &String| p[table_prefix.len()..].to_owned();
        if below.iter().map(rest).any(|p| p.starts_with("dt="))
            && !below.iter().map(rest).any(|p| p.starts_with("item="))
        {
            return Ok(CommandError::BatchMode {
                bucket: bucket.name().to_owned(),
                table_prefix,
                window: at
                    .window
                    .map_or_else(|| "every partition".to_owned(), |w| w.describe()),
            });
        }
        if below.is_empty() {
            let tables = table_names(bucket, &at.prefix).await?;
            let hint = if tables.is_empty() {
                " (nothing is there: check --bucket and --prefix)".to_owned()
            } else {
                format!(" (tables found: {})", tables.join(", "))
            };
            return Ok(CommandError::NoTable {
                bucket: bucket.name().to_owned(),
                prefix: at.prefix.clone(),
                table: item.table.clone(),
                hint,
            });
        }
        Ok(CommandError::NoItem {
            bucket: bucket.name().to_owned(),
            item_prefix,
            hint: key_names_hint(&below, &item.key),
        })
    };
    explained.await.unwrap_or_else(|e: BucketError| e.into())
}

/// Error documents of unreadable records that name this item (when their raw keys are
/// readable), placed in stream order among the item's documents.
async fn unreadable_for<B: Bucket>(
    bucket: &B,
    at: &Location,
    table: &str,
    item_key: &Item<'_>,
) -> Result<Vec<Entry>, CommandError> {
    let prefix = format!("{}unreadable/", at.prefix);
    // Current objects only: a deleted error document cannot be attributed to an item anyway
    // (verify reports it), and listing versions is much slower on some servers.
    let mut out = Vec::new();
    for object_key in bucket.list_keys(&prefix).await? {
        let history = trail::KeyHistory {
            key: object_key,
            versions: 1,
            deleted: false,
        };
        let fetched = bucket.get(&history.key).await?;
        let entry = trail::entry(&history, Some(&fetched.body));
        let names_item = match &entry.stored {
            Some(Stored::Unreadable(doc)) => {
                doc.raw_table() == Some(table)
                    && doc.raw_keys().is_some_and(|keys| item_eq(&keys, item_key))
            }
            _ => false,
        };
        if names_item {
            out.push(entry);
        }
    }
    Ok(out)
}

/// Merges entries by their leaf name (both layouts start it with the padded sequence number).
fn merge_in_stream_order(mut entries: Vec<Entry>, extra: Vec<Entry>) -> Vec<Entry> {
    entries.extend(extra);
    let leaf = |e: &Entry| e.key.rsplit('/').next().unwrap_or_default().to_owned();
    entries.sort_by_key(leaf);
    entries
}

/// The item's key and its trail, error documents that name it included.
pub(crate) async fn read_item<B: Bucket>(
    bucket: &B,
    at: &Location,
    item: &ItemRef,
) -> Result<(Item<'static>, Vec<Entry>), CommandError> {
    let mut keys = keyarg::parse(&item.key)?;
    if let Some(redactor) = &item.redaction {
        keys = redactor
            .redact_item(&keys)
            .map_err(|e| KeyArgError::Json(e.to_string()))?;
    }
    let prefix = key::item_prefix(&at.prefix, &item.table, &keys);
    let entries = trail::read(bucket, &prefix).await?;
    // An item whose only records were unreadable has error documents and nothing else.
    let unreadable = unreadable_for(bucket, at, &item.table, &keys).await?;
    // Batch mode has no item prefix: the item is found in the window's partitions.
    if entries.is_none()
        && let Some(batch) = scan::item_in_batches(bucket, at, &item.table, &keys).await?
    {
        return Ok((keys, scan::in_stream_order(batch, unreadable)));
    }
    let Some(entries) = entries.or((!unreadable.is_empty()).then(Vec::new)) else {
        return Err(explain_missing(bucket, at, item, prefix).await);
    };
    Ok((keys, merge_in_stream_order(entries, unreadable)))
}

/// `ddb-audit history`: the item's timeline, or its documents as JSON Lines.
pub async fn history<B: Bucket>(
    bucket: &B,
    at: &Location,
    item: &ItemRef,
    json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, CommandError> {
    let (keys, entries) = read_item(bucket, at, item).await?;
    if json {
        for entry in &entries {
            if let Some(text) = &entry.text {
                writeln!(out, "{text}")?;
            }
            for problem in &entry.problems {
                writeln!(err, "ddb-audit: {}: {problem}", entry.key)?;
            }
        }
    } else {
        write!(out, "{}", timeline::render(&item.table, &keys, &entries))?;
    }
    Ok(exit_status(&entries))
}

/// `history`'s exit status: findings when the trail has a problem other than an
/// unreadable record (kept as an error document, which is the function doing its job).
pub(crate) fn exit_status(entries: &[Entry]) -> i32 {
    let problems = entries.iter().any(|e| {
        e.problems
            .iter()
            .any(|p| !matches!(p, Problem::Unreadable { .. }))
    });
    if problems { EXIT_FINDINGS } else { 0 }
}

/// `ddb-audit replay`: the item at a time, typed JSON (or plain), doubts on stderr.
pub async fn replay<B: Bucket>(
    bucket: &B,
    at: &Location,
    item: &ItemRef,
    time: Timestamp,
    plain_json: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, CommandError> {
    let (keys, entries) = read_item(bucket, at, item).await?;
    let result = replay::replay(&entries, time);
    let when = time.to_rfc3339();
    let records = entries.iter().filter(|e| e.stored.is_some()).count();
    let last = match &result.last_change {
        Some(last) => format!(", the last at {last}"),
        None => String::new(),
    };
    writeln!(
        err,
        "ddb-audit: {} {} as of {when}: {} of {records} record{} applied{last}",
        item.table,
        timeline::key_line(&keys),
        result.applied,
        if records == 1 { "" } else { "s" },
    )?;
    match &result.state {
        State::Present(item) => {
            let text = if plain_json {
                plain::item_to_plain(item)
            } else {
                serde_json::to_string(item).expect("an item serializes")
            };
            writeln!(out, "{text}")?;
        }
        State::Absent => {
            writeln!(out, "null")?;
            match &result.last_change {
                Some(last) => writeln!(
                    err,
                    "ddb-audit: the item did not exist at {when} (deleted by the record of {last})"
                )?,
                None => writeln!(
                    err,
                    "ddb-audit: the item did not exist at {when} (its first record is later)"
                )?,
            }
        }
        State::Unknown => {
            writeln!(out, "null")?;
            writeln!(
                err,
                "ddb-audit: the trail cannot tell what the item looked like at {when}"
            )?;
        }
    }
    for note in &result.notes {
        writeln!(err, "ddb-audit: note: {note}")?;
    }
    if result.uncertainties.is_empty() {
        return Ok(0);
    }
    writeln!(
        err,
        "ddb-audit: UNCERTAIN: the trail has {} gap(s) before {when}:",
        result.uncertainties.len()
    )?;
    for u in &result.uncertainties {
        writeln!(err, "  {u}")?;
    }
    Ok(EXIT_FINDINGS)
}

/// `ddb-audit verify`: every object checked; summary and findings on `out`, progress on `err`.
pub async fn verify<B: Bucket>(
    bucket: &B,
    at: &Location,
    out: &mut impl Write,
    err: &mut (impl Write + Send),
) -> Result<i32, CommandError> {
    bucket.check().await?;
    let progress = std::sync::Mutex::new(err);
    let report = verify::run(bucket, &at.prefix, 1000, |done, total| {
        if let Ok(mut e) = progress.lock() {
            let _ = writeln!(e, "ddb-audit: verified {done}/{total} objects");
        }
    })
    .await?;
    write!(out, "{}", report.render(&at.bucket, &at.prefix))?;
    Ok(if report.problems() > 0 {
        EXIT_FINDINGS
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry {
            key: key.into(),
            stored: None,
            text: None,
            problems: vec![],
        }
    }

    // An unreadable record of the item lands between the documents around it in the stream.
    #[test]
    fn unreadable_records_are_placed_in_stream_order() {
        let item = vec![
            entry("a/table=T/item=pk=x/0001-e1.json"),
            entry("a/table=T/item=pk=x/0003-e3.json"),
        ];
        let merged = merge_in_stream_order(item, vec![entry("a/unreadable/0002-e2.json")]);
        let keys: Vec<&str> = merged.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "a/table=T/item=pk=x/0001-e1.json",
                "a/unreadable/0002-e2.json",
                "a/table=T/item=pk=x/0003-e3.json"
            ]
        );
    }

    // `--prefix audit` means the same folder as the function's AUDIT_PREFIX=audit.
    #[test]
    fn prefix_gets_the_functions_trailing_slash() {
        assert_eq!(Location::new("b", "audit").prefix, "audit/");
        assert_eq!(Location::new("b", "audit/").prefix, "audit/");
        assert_eq!(Location::new("b", "").prefix, "");
    }

    // `--at now` uses the caller's clock; anything else must be RFC 3339.
    #[test]
    fn at_accepts_rfc3339_or_now() {
        let now = Timestamp { unix_millis: 42 };
        assert_eq!(parse_at("now", now).unwrap(), now);
        assert!(matches!(
            parse_at("yesterday", now),
            Err(CommandError::Time { hint: "", .. })
        ));
        assert!(matches!(
            parse_at("2026-11-27T08:31:41", now),
            Err(CommandError::Time { hint, .. }) if hint.contains("add `Z`")
        ));
    }
}
