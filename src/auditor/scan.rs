//! Reading many objects at once, in either layout: a record-mode table's item prefixes, or
//! the batch-mode `dt=/hour=` partitions of a window; the object-count guard; bounded,
//! concurrent reads with a progress line.
//!
//! Listing comes first (one LIST per item prefix, or per partition, concurrently), so the
//! number of objects is known before any is read and a window too large for the CLI is
//! refused with its count instead of being read for minutes or silently cut. Every object
//! becomes [`Entry`]s as `trail` makes them: one per document, and one per object whose
//! version history or content is suspect (an overwritten or deleted batch object may have
//! held any item's records, so its entry names no document).

use std::io::{Read as _, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::auditor::command::{CommandError, Location};
use crate::auditor::trail::{self, Entry, KeyHistory, Problem};
use crate::auditor::window::{InvestigateError, Window};
use crate::concurrent;
use crate::document::Stored;
use crate::key;
use crate::store::bucket::{Bucket, BucketError};
use crate::timestamp::Timestamp;
use crate::value::{Item, item_eq};

/// LISTs in flight at once.
const LISTS_IN_FLIGHT: usize = 16;
/// GETs in flight at once.
const GETS_IN_FLIGHT: usize = 32;

/// What was read: every entry, and how much was read for it.
#[derive(Debug, Default)]
pub struct Scanned {
    pub entries: Vec<Entry>,
    /// Objects read (GET).
    pub objects: usize,
    /// Documents found in them.
    pub documents: usize,
    /// Bytes read, as stored (gzip in batch mode).
    pub bytes: u64,
}

/// The layouts found under a table's prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// `…/table=T/item=…/` prefixes (record mode).
    pub items: Vec<String>,
    /// `YYYY-MM-DD` days of `…/table=T/dt=…/` prefixes (batch mode), ascending.
    pub days: Vec<String>,
}

/// Lists one level under the table's prefix: its item prefixes and its partition days.
pub async fn layout<B: Bucket>(bucket: &B, table_prefix: &str) -> Result<Layout, BucketError> {
    let mut layout = Layout::default();
    for prefix in bucket.list_prefixes(table_prefix, "/").await? {
        let rest = &prefix[table_prefix.len()..];
        if rest.starts_with("item=") {
            layout.items.push(prefix);
        } else if let Some(day) = rest.strip_prefix("dt=") {
            layout.days.push(day.trim_end_matches('/').to_owned());
        }
    }
    layout.days.sort();
    Ok(layout)
}

/// The partition prefixes of `window` (all of them when `None`) among the days present.
pub fn partition_prefixes(
    table_prefix: &str,
    days: &[String],
    window: Option<&Window>,
) -> Vec<String> {
    let mut out = Vec::new();
    for day in days {
        for hour in 0..24 {
            let hour = format!("{hour:02}");
            if window.is_none_or(|w| hour_overlaps(day, &hour, w)) {
                out.push(format!("{table_prefix}dt={day}/hour={hour}/"));
            }
        }
    }
    out
}

/// Whether the UTC hour `day`T`hour` overlaps the window.
fn hour_overlaps(day: &str, hour: &str, window: &Window) -> bool {
    let Some(start) = Timestamp::parse_rfc3339(&format!("{day}T{hour}:00:00Z")) else {
        return false; // not a date partition (e.g. dt=unknown): no time to place it by
    };
    let end = start.unix_millis + 3_600_000 - 1;
    start.unix_millis <= window.until.unix_millis && window.since.unix_millis <= end
}

/// Lists the versions under each prefix, concurrently; keys ascending within each prefix.
pub async fn list_all<B: Bucket>(
    bucket: &B,
    prefixes: Vec<String>,
) -> Result<Vec<KeyHistory>, BucketError> {
    let listed = concurrent::bounded(
        prefixes.clone(),
        LISTS_IN_FLIGHT,
        |prefix| {
            let bucket = bucket.clone();
            async move { bucket.list_versions(&prefix).await }
        },
        |_| {},
    )
    .await;
    let mut out = Vec::new();
    for (prefix, rows) in prefixes.iter().zip(listed) {
        let rows = rows.map_err(|source| BucketError::Interrupted {
            action: format!("listing {prefix}"),
            source,
        })??;
        out.extend(trail::group_versions(&rows));
    }
    Ok(out)
}

/// Refuses more than `limit` objects (no limit: `--yes`), with the count.
pub fn guard(
    count: usize,
    limit: Option<usize>,
    bucket: &str,
    prefix: &str,
) -> Result<(), InvestigateError> {
    match limit {
        Some(limit) if count > limit => Err(InvestigateError::TooMany {
            count,
            limit,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Turns one object into entries: its documents (one per line in batch mode) and, for a
/// batch object, a separate entry carrying what its history or content makes suspect.
fn entries_of(history: &KeyHistory, body: Option<&[u8]>) -> Vec<Entry> {
    if !history.key.ends_with(".jsonl.gz") {
        return vec![trail::entry(history, body)];
    }
    let mut problems = trail::history_problems(history);
    let mut out = Vec::new();
    if let Some(body) = body {
        match gzip_lines(body) {
            Ok(lines) => {
                let clean = KeyHistory {
                    key: history.key.clone(),
                    versions: 1,
                    deleted: false,
                };
                for line in lines.lines().filter(|l| !l.trim().is_empty()) {
                    let entry = trail::entry(&clean, Some(line.as_bytes()));
                    if entry.stored.is_some() {
                        out.push(entry);
                    } else {
                        problems.extend(entry.problems);
                    }
                }
            }
            Err(error) => problems.push(Problem::NotADocument {
                reason: format!("not gzip UTF-8 text: {error}"),
            }),
        }
    }
    if !problems.is_empty() {
        out.insert(
            0,
            Entry {
                key: history.key.clone(),
                stored: None,
                text: None,
                problems,
            },
        );
    }
    out
}

/// The text of a gzip JSON Lines object.
fn gzip_lines(body: &[u8]) -> Result<String, std::io::Error> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(body).read_to_string(&mut text)?;
    Ok(text)
}

/// A progress line on a terminal: objects and bytes read, and the rate.
#[derive(Debug)]
pub struct Progress<W: Write> {
    out: Option<W>,
    started: Instant,
    total: usize,
}

impl<W: Write> Progress<W> {
    /// Progress to `out`, or none when `None` (not a terminal, or tests).
    pub fn new(out: Option<W>) -> Self {
        Self {
            out,
            started: Instant::now(),
            total: 0,
        }
    }

    fn show(&mut self, done: usize, bytes: u64) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let _ = write!(
            out,
            "\rddb-audit: read {done}/{} objects, {:.1} MB, {:.0} objects/s ",
            self.total,
            bytes as f64 / 1e6,
            done as f64 / seconds
        );
        if done == self.total {
            let _ = writeln!(out);
        }
        let _ = out.flush();
    }
}

/// Reads every present object of `histories` (at most [`GETS_IN_FLIGHT`] at once) and turns
/// them into entries, keeping the deleted ones as problem entries.
pub async fn fetch<B: Bucket, W: Write>(
    bucket: &B,
    histories: Vec<KeyHistory>,
    progress: &mut Progress<W>,
) -> Result<Scanned, BucketError> {
    progress.total = histories
        .iter()
        .filter(|h| !h.deleted && h.versions > 0)
        .count();
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&bytes);
    let bodies = trail::current_bodies(bucket, &histories, GETS_IN_FLIGHT, &bytes, |done| {
        progress.show(done, counted.load(Ordering::Relaxed))
    })
    .await?;
    let mut scanned = Scanned {
        bytes: bytes.load(Ordering::Relaxed),
        ..Scanned::default()
    };
    for (history, body) in histories.iter().zip(&bodies) {
        scanned.objects += usize::from(body.is_some());
        let entries = entries_of(history, body.as_deref());
        scanned.documents += entries.iter().filter(|e| e.stored.is_some()).count();
        scanned.entries.extend(entries);
    }
    Ok(scanned)
}

/// Where an entry lies in the stream: its document's sequence number (zero-padded), else
/// the sequence number its object's name starts with.
pub fn position(entry: &Entry) -> String {
    match entry.stored.as_ref().and_then(Stored::change) {
        Some(doc) => format!(
            "{:0>width$}",
            doc.source.sequence_number,
            width = key::SEQUENCE_WIDTH
        ),
        None => entry.key.rsplit('/').next().unwrap_or_default().to_owned(),
    }
}

/// Entries in stream order, a record read twice (a duplicated batch) kept once.
pub fn in_stream_order(mut entries: Vec<Entry>, extra: Vec<Entry>) -> Vec<Entry> {
    entries.extend(extra);
    entries.sort_by_cached_key(position);
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| match e.stored.as_ref().and_then(Stored::event_id) {
        Some(id) => seen.insert(id.to_owned()),
        None => true,
    });
    entries
}

/// One item's entries from the batch-mode partitions of the location's window, with the
/// suspect objects of those partitions (they may have held its records). `None` when the
/// table has no partitions or they hold nothing of the item.
pub async fn item_in_batches<B: Bucket>(
    bucket: &B,
    at: &Location,
    table: &str,
    keys: &Item<'_>,
) -> Result<Option<Vec<Entry>>, CommandError> {
    let table_prefix = key::table_prefix(&at.prefix, table);
    let layout = layout(bucket, &table_prefix).await?;
    if layout.days.is_empty() {
        return Ok(None);
    }
    let prefixes = partition_prefixes(&table_prefix, &layout.days, at.window.as_ref());
    let histories = list_all(bucket, prefixes).await?;
    guard(
        histories.len(),
        at.max_objects,
        bucket.name(),
        &table_prefix,
    )?;
    let scanned = fetch(bucket, histories, &mut Progress::<std::io::Sink>::new(None)).await?;
    let mut found = false;
    let entries: Vec<Entry> = scanned
        .entries
        .into_iter()
        .filter(|e| match e.stored.as_ref().and_then(Stored::change) {
            Some(doc) => {
                let mine = doc.table == table && item_eq(&doc.key, keys);
                found |= mine;
                mine
            }
            None => true,
        })
        .collect();
    Ok(found.then(|| in_stream_order(entries, Vec::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Only the hours a window touches are read, and only on days that have partitions.
    #[test]
    fn partitions_are_the_windows_hours_on_present_days() {
        let days = vec!["2026-11-27".to_owned(), "2026-11-29".to_owned()];
        let window = Window::new(
            Timestamp::parse_rfc3339("2026-11-27T22:10:00Z").unwrap(),
            Timestamp::parse_rfc3339("2026-11-28T23:00:00Z").unwrap(),
        )
        .unwrap();
        assert_eq!(
            partition_prefixes("a/table=T/", &days, Some(&window)),
            [
                "a/table=T/dt=2026-11-27/hour=22/",
                "a/table=T/dt=2026-11-27/hour=23/"
            ]
        );
        assert_eq!(partition_prefixes("a/table=T/", &days, None).len(), 48);
    }

    // More objects than the limit are refused with the count; --yes (no limit) reads them.
    #[test]
    fn the_guard_counts_and_yes_passes() {
        let err = guard(10_001, Some(10_000), "b", "audit/table=T/").unwrap_err();
        assert!(err.to_string().starts_with("the window needs 10001 objects under s3://b/audit/table=T/ (more than 10000): add --yes"), "{err}");
        assert!(guard(10_001, None, "b", "p").is_ok());
        assert!(guard(10_000, Some(10_000), "b", "p").is_ok());
    }
}
