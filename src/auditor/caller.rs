//! Who made each change, answered from the trail bucket: `history --trail-bucket` and
//! `replay --trail-bucket`.
//!
//! Reads, through the [`Bucket`] port, only the CloudTrail log files of the UTC hours the
//! item's changes fall in (from [`WINDOW_SECONDS`] before a change to the delivery allowance
//! after it, since a file is named after its delivery time), listing one hour prefix per
//! hour, all concurrently through [`concurrent::bounded`]. The events are handed to the pure
//! matcher ([`attribution`]) and its answer is printed under each change.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde_json::{Map, Value, json};

use crate::auditor::attribution::{self, Attribution, Coverage, WINDOW_SECONDS};
use crate::auditor::cloudtrail::{self, Caller, TrailEvent};
use crate::auditor::command::{self, CommandError, ItemRef, Location};
use crate::auditor::timeline;
use crate::concurrent;
use crate::document::ChangeDocument;
use crate::store::bucket::{Bucket, BucketError};
use crate::timestamp::Timestamp;

/// Log files read at once.
const IN_FLIGHT: usize = 16;
const MILLIS_PER_HOUR: i64 = 3_600_000;

/// Where the trail's log files are, and how late one may arrive.
#[derive(Debug, Clone)]
pub struct TrailLocation {
    /// The trail's S3 key prefix (empty, or ending with `/`): files lie under `<prefix>AWSLogs/`.
    pub prefix: String,
    /// How long after a call its log file may be delivered and still be read.
    pub delivery_allowance_ms: i64,
}

impl TrailLocation {
    /// `prefix` with a trailing `/` added when missing; the allowance in minutes.
    pub fn new(prefix: &str, delivery_minutes: u32) -> Self {
        let mut prefix = prefix.to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Self {
            prefix,
            delivery_allowance_ms: i64::from(delivery_minutes) * 60_000,
        }
    }
}

/// The DynamoDB write events read for an item, and what was read.
#[derive(Debug, Default)]
pub struct LoadedTrail {
    pub events: Vec<TrailEvent>,
    pub coverage: Coverage,
    pub files: usize,
    /// Log files that could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// Reads the log files that may hold the calls behind `docs`. `progress` is told
/// (files read, files to read) after each file.
pub async fn load<B: Bucket>(
    trail: &B,
    at: &TrailLocation,
    docs: &[&ChangeDocument],
    now: Timestamp,
    mut progress: impl FnMut(usize, usize),
) -> Result<LoadedTrail, BucketError> {
    let mut hours: BTreeSet<(String, String, i64)> = BTreeSet::new();
    for doc in docs {
        let Some(created) = doc.source.created() else {
            continue;
        };
        for hour in Coverage::hours_for(created, at.delivery_allowance_ms) {
            hours.insert((doc.source.account.clone(), doc.source.region.clone(), hour));
        }
    }
    let hours: Vec<(String, String, i64)> = hours.into_iter().collect();
    let listed = concurrent::bounded(
        hours.clone(),
        IN_FLIGHT,
        |(account, region, hour)| {
            let trail = trail.clone();
            let start = Timestamp {
                unix_millis: hour * MILLIS_PER_HOUR,
            };
            let prefix = cloudtrail::hour_prefix(&at.prefix, &account, &region, start);
            async move { trail.list_keys(&prefix).await }
        },
        |_| {},
    )
    .await;
    let mut coverage = Coverage {
        now: Some(now),
        delivery_allowance_ms: at.delivery_allowance_ms,
        files_per_hour: BTreeMap::new(),
    };
    let mut keys = Vec::new();
    for ((_, _, hour), listing) in hours.iter().zip(listed) {
        let listing = listing.map_err(|source| BucketError::Interrupted {
            action: format!("listing trail files of s3://{}", trail.name()),
            source,
        })??;
        let files: Vec<String> = listing
            .into_iter()
            .filter(|k| k.ends_with(".json.gz") || k.ends_with(".json"))
            .collect();
        *coverage.files_per_hour.entry(*hour).or_default() += files.len();
        keys.extend(files);
    }
    let total = keys.len();
    let read = concurrent::bounded(
        keys.clone(),
        IN_FLIGHT,
        |key| {
            let trail = trail.clone();
            async move {
                let fetched = trail.get(&key).await?;
                Ok::<_, BucketError>(cloudtrail::parse_log(&fetched.body))
            }
        },
        |done| progress(done, total),
    )
    .await;
    let mut loaded = LoadedTrail {
        coverage,
        files: total,
        ..LoadedTrail::default()
    };
    for (key, result) in keys.into_iter().zip(read) {
        let parsed = result.map_err(|source| BucketError::Interrupted {
            action: format!("reading s3://{}/{key}", trail.name()),
            source,
        })??;
        match parsed {
            Ok(events) => loaded.events.extend(events),
            Err(e) => loaded.unreadable.push((key, e.to_string())),
        }
    }
    Ok(loaded)
}

/// `by <arn> (from <ip>, <user agent>, request <id>)` without the `by`.
pub fn caller_line(event: &TrailEvent) -> String {
    let c = &event.caller;
    let mut details: Vec<String> = Vec::new();
    if let Some(ip) = &c.source_ip {
        details.push(format!("from {ip}"));
    }
    if let Some(agent) = &c.user_agent {
        details.push(agent.clone());
    }
    if let Some(request) = &c.request_id {
        details.push(format!("request {request}"));
    }
    if details.is_empty() {
        c.name().to_owned()
    } else {
        format!("{} ({})", c.name(), details.join(", "))
    }
}

/// The lines printed under a change's heading.
pub fn attribution_lines(attribution: &Attribution<'_>) -> Vec<String> {
    match attribution {
        Attribution::Caller(event) => vec![format!("by {}", caller_line(event))],
        Attribution::Ambiguous { candidates, hidden } => {
            let principals: BTreeSet<&str> = candidates.iter().map(|e| e.caller.name()).collect();
            // One principal behind every candidate: who is known, only which request is not.
            let same = match (principals.iter().next(), principals.len(), hidden) {
                (Some(who), 1, 0) => format!(", all by {who}"),
                _ => String::new(),
            };
            let mut lines = vec![format!(
                "caller ambiguous: {} writes fit this change{same}",
                candidates.len() + hidden
            )];
            lines.extend(candidates.iter().map(|e| format!("  {}", caller_line(e))));
            if *hidden > 0 {
                lines.push(format!(
                    "  and {hidden} write(s) whose key CloudTrail did not record"
                ));
            }
            lines
        }
        // The heading already says `[TTL expiry]  by dynamodb.amazonaws.com`.
        Attribution::Ttl => Vec::new(),
        Attribution::Unknown(why) => vec![format!("caller unknown: {why}")],
    }
}

fn caller_json(event: &TrailEvent) -> Value {
    let Caller {
        identity_type,
        principal_id,
        arn,
        account_id,
        session_issuer,
        invoked_by,
        source_ip,
        user_agent,
        request_id,
    } = &event.caller;
    let mut out = Map::new();
    let fields = [
        ("arn", arn),
        ("principal_id", principal_id),
        ("type", identity_type),
        ("account_id", account_id),
        ("session_issuer", session_issuer),
        ("invoked_by", invoked_by),
        ("source_ip", source_ip),
        ("user_agent", user_agent),
        ("request_id", request_id),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            out.insert(name.into(), Value::String(value.clone()));
        }
    }
    out.insert("event_id".into(), json!(event.event_id));
    out.insert("event_name".into(), json!(event.event_name));
    out.insert("event_time".into(), json!(event.event_time.to_rfc3339()));
    Value::Object(out)
}

/// The `attribution` member added to a document by `history --json`.
pub fn attribution_json(attribution: &Attribution<'_>) -> Value {
    match attribution {
        Attribution::Caller(event) => json!({"status": "caller", "caller": caller_json(event),
                                             "event_ids": [event.event_id]}),
        Attribution::Ambiguous { candidates, hidden } => json!({"status": "ambiguous",
            "candidates": candidates.iter().map(|e| caller_json(e)).collect::<Vec<_>>(),
            "hidden": hidden,
            "event_ids": candidates.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>()}),
        Attribution::Ttl => json!({"status": "ttl", "event_ids": []}),
        Attribution::Unknown(why) => json!({"status": "unknown", "reason": why, "event_ids": []}),
    }
}

/// A stored document's text with `"attribution": …` added as its last member.
fn with_attribution(text: &str, attribution: &Value) -> String {
    let body = text.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body);
    format!("{body},\"attribution\":{attribution}}}")
}

/// Reads the trail for `docs` with progress and notes on `err`, then matches.
async fn matched<B: Bucket>(
    trail: &B,
    trail_at: &TrailLocation,
    docs: &[&ChangeDocument],
    now: Timestamp,
    progress: impl FnMut(usize, usize),
    err: &mut impl Write,
) -> Result<LoadedTrail, CommandError> {
    let loaded = load(trail, trail_at, docs, now, progress).await?;
    writeln!(
        err,
        "ddb-audit: callers from s3://{}/{}: {} log file{}, {} DynamoDB write event{} (window ±{WINDOW_SECONDS} s, delivery allowance {} min)",
        trail.name(),
        trail_at.prefix,
        loaded.files,
        if loaded.files == 1 { "" } else { "s" },
        loaded.events.len(),
        if loaded.events.len() == 1 { "" } else { "s" },
        trail_at.delivery_allowance_ms / 60_000,
    )?;
    for (key, why) in &loaded.unreadable {
        writeln!(err, "ddb-audit: note: trail file {key} skipped: {why}")?;
    }
    Ok(loaded)
}

/// `ddb-audit history --trail-bucket`: the timeline (or JSON Lines) with each change's caller.
#[allow(clippy::too_many_arguments)]
pub async fn history<B: Bucket>(
    bucket: &B,
    trail: &B,
    at: &Location,
    trail_at: &TrailLocation,
    item: &ItemRef,
    json: bool,
    now: Timestamp,
    progress: impl FnMut(usize, usize),
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, CommandError> {
    let (keys, entries) = command::read_item(bucket, at, item).await?;
    let docs: Vec<(usize, &ChangeDocument)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.stored.as_ref()?.change().map(|d| (i, d)))
        .collect();
    let only_docs: Vec<&ChangeDocument> = docs.iter().map(|(_, d)| *d).collect();
    let loaded = matched(trail, trail_at, &only_docs, now, progress, err).await?;
    let answers = attribution::attribute(&only_docs, &loaded.events, &loaded.coverage);
    let by_entry: BTreeMap<usize, &Attribution<'_>> =
        docs.iter().map(|(i, _)| *i).zip(&answers).collect();
    if json {
        for (i, entry) in entries.iter().enumerate() {
            if let Some(text) = &entry.text {
                match by_entry.get(&i) {
                    Some(a) => writeln!(out, "{}", with_attribution(text, &attribution_json(a)))?,
                    None => writeln!(out, "{text}")?,
                }
            }
            for problem in &entry.problems {
                writeln!(err, "ddb-audit: {}: {problem}", entry.key)?;
            }
        }
    } else {
        let notes = |i: usize| {
            by_entry
                .get(&i)
                .map(|a| attribution_lines(a))
                .unwrap_or_default()
        };
        write!(
            out,
            "{}",
            timeline::render_annotated(&item.table, &keys, &entries, notes)
        )?;
    }
    Ok(command::exit_status(&entries))
}

/// `ddb-audit replay --trail-bucket`: the replay, then who made the last change before `time`.
#[allow(clippy::too_many_arguments)]
pub async fn replay<B: Bucket>(
    bucket: &B,
    trail: &B,
    at: &Location,
    trail_at: &TrailLocation,
    item: &ItemRef,
    time: Timestamp,
    plain_json: bool,
    now: Timestamp,
    progress: impl FnMut(usize, usize),
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, CommandError> {
    let status = command::replay(bucket, at, item, time, plain_json, out, err).await?;
    let (_, entries) = command::read_item(bucket, at, item).await?;
    let docs: Vec<&ChangeDocument> = entries
        .iter()
        .filter_map(|e| e.stored.as_ref()?.change())
        .filter(|d| d.source.created().is_some_and(|c| c <= time))
        .collect();
    let Some(last) = docs.last() else {
        return Ok(status);
    };
    let loaded = matched(trail, trail_at, &docs, now, progress, err).await?;
    let answers = attribution::attribute(&docs, &loaded.events, &loaded.coverage);
    let when = last
        .source
        .approximate_creation_time
        .as_deref()
        .unwrap_or("?");
    let (said, more) = match answers.last() {
        Some(Attribution::Caller(event)) => (format!("was made by {}", caller_line(event)), vec![]),
        Some(Attribution::Ttl) => ("was DynamoDB's TTL deletion (no caller)".to_owned(), vec![]),
        Some(Attribution::Unknown(why)) => (format!("has no known caller: {why}"), vec![]),
        Some(a @ Attribution::Ambiguous { .. }) => {
            let lines = attribution_lines(a);
            (
                "has more than one possible caller:".to_owned(),
                lines[1..].to_vec(),
            )
        }
        None => ("has no known caller".to_owned(), vec![]),
    };
    writeln!(
        err,
        "ddb-audit: the last change before {} ({when} {}, seq {}) {said}",
        time.to_rfc3339(),
        last.event_name.as_str(),
        last.source.sequence_number,
    )?;
    for line in more {
        writeln!(err, "  {line}")?;
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The document keeps its text and gains `attribution` as its last member.
    #[test]
    fn attribution_is_appended_to_the_stored_text() {
        let text = r#"{"schema":"ddb-audit/1","n":{"N":"1.50"}}"#;
        assert_eq!(
            with_attribution(text, &json!({"status": "ttl"})),
            r#"{"schema":"ddb-audit/1","n":{"N":"1.50"},"attribution":{"status":"ttl"}}"#
        );
    }

    // A trail prefix is a folder, as the audit prefix is.
    #[test]
    fn trail_prefix_gets_a_trailing_slash() {
        assert_eq!(TrailLocation::new("org", 15).prefix, "org/");
        assert_eq!(TrailLocation::new("", 15).prefix, "");
        assert_eq!(TrailLocation::new("", 15).delivery_allowance_ms, 900_000);
    }
}
