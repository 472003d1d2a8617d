//! `ddb-audit changes`: every change to a table in a time window, across items, filtered.
//!
//! The flags are read first ([`Query::parse`]), so a bad one costs no request. Then the
//! table's layout decides what is listed ([`crate::auditor::scan`]): in batch mode only the
//! `dt=/hour=` partitions the window touches; in record mode every item (the layout is per
//! item, and a key says nothing of time: one listing under the items' common prefix), or one
//! with `--key`. Documents are kept
//! when their record's creation time is in the window and the filters hold, then shown in
//! time order (stream order within an item), one line per change, rendered as `history`
//! renders them. Matching and rendering ([`Filter`], [`render`]) are pure.

use std::fmt::Write as _;
use std::io::Write;

use serde::Deserialize as _;

use crate::auditor::command::{CommandError, EXIT_FINDINGS, Location};
use crate::auditor::keyarg;
use crate::auditor::scan::{self, Progress};
use crate::auditor::timeline::{change_line, key_line};
use crate::auditor::trail::{Entry, Problem};
use crate::auditor::window::{InvestigateError, Window};
use crate::diff::pointer_segments;
use crate::document::{ChangeDocument, Stored};
use crate::key;
use crate::pattern::Pattern;
use crate::record::EventName;
use crate::store::bucket::Bucket;
use crate::timestamp::Timestamp;
use crate::value::{AttributeValue, Item, item_eq, spec_eq};

/// The flags of `ddb-audit changes`, as given.
#[derive(Debug, Clone, Default)]
pub struct ChangesArgs {
    pub table: String,
    pub since: String,
    pub until: Option<String>,
    pub path: Option<String>,
    pub value: Option<String>,
    pub event: Option<String>,
    pub key: Option<String>,
    pub json: bool,
    /// Read however many objects the window needs.
    pub yes: bool,
}

/// Which documents to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep documents with a change at or under a path this matches.
    pub path: Option<Pattern>,
    /// Keep documents with a change whose new value equals this (rule 1); with `path`,
    /// the same change must satisfy both.
    pub value: Option<AttributeValue<'static>>,
    pub event: Option<EventName>,
    pub key: Option<Item<'static>>,
}

impl Filter {
    /// Whether the document is kept.
    pub fn keeps(&self, doc: &ChangeDocument) -> bool {
        if self.event.is_some_and(|e| e != doc.event_name) {
            return false;
        }
        if self.key.as_ref().is_some_and(|k| !item_eq(k, &doc.key)) {
            return false;
        }
        if self.path.is_none() && self.value.is_none() {
            return true;
        }
        // An incomplete document has no diff to match against.
        doc.changes.as_ref().is_some_and(|changes| {
            changes.iter().any(|change| {
                self.path
                    .as_ref()
                    .is_none_or(|p| p.covers_pointer(&pointer_segments(&change.path)))
                    && self
                        .value
                        .as_ref()
                        .is_none_or(|v| change.new.as_deref().is_some_and(|new| spec_eq(new, v)))
            })
        })
    }
}

/// A parsed `changes` invocation.
#[derive(Debug, Clone)]
pub struct Query {
    pub table: String,
    pub window: Window,
    pub filter: Filter,
}

impl Query {
    /// Reads the flags; each error names its flag and the form it accepts.
    pub fn parse(args: &ChangesArgs, now: Timestamp) -> Result<Self, CommandError> {
        let window = Window::parse(&args.since, args.until.as_deref(), now)?;
        let path = args
            .path
            .as_deref()
            .map(Pattern::parse)
            .transpose()
            .map_err(InvestigateError::from)?;
        let value = args.value.as_deref().map(parse_value).transpose()?;
        let event = args
            .event
            .as_deref()
            .map(|text| match text.to_ascii_uppercase().as_str() {
                "INSERT" => Ok(EventName::Insert),
                "MODIFY" => Ok(EventName::Modify),
                "REMOVE" => Ok(EventName::Remove),
                _ => Err(InvestigateError::Event(text.to_owned())),
            })
            .transpose()?;
        let key = args.key.as_deref().map(keyarg::parse).transpose()?;
        Ok(Self {
            table: args.table.clone(),
            window,
            filter: Filter {
                path,
                value,
                event,
                key,
            },
        })
    }
}

/// `--value`: one typed DynamoDB value.
fn parse_value(text: &str) -> Result<AttributeValue<'static>, InvestigateError> {
    let bad = |reason: String| InvestigateError::Value {
        text: text.to_owned(),
        reason,
    };
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    AttributeValue::deserialize(json).map_err(|e| bad(e.to_string()))
}

/// The lines of one document: one per change, `time  EVENT  key  path: old → new`.
pub fn render(doc: &ChangeDocument) -> String {
    let time = doc
        .source
        .approximate_creation_time
        .as_deref()
        .unwrap_or("(no time)");
    let mut lead = format!(
        "{time}  {:<6}  {}",
        doc.event_name.as_str(),
        key_line(&doc.key)
    );
    if doc.ttl_expiry {
        lead.push_str("  [TTL expiry]");
    }
    let mut out = String::new();
    match &doc.changes {
        Some(changes) if doc.complete && !changes.is_empty() => {
            for change in changes {
                let _ = writeln!(out, "{lead}  {}", change_line(change));
            }
        }
        Some(_) if doc.complete => {
            let _ = writeln!(out, "{lead}  (no attribute changed)");
        }
        _ => {
            let view = doc.source.stream_view_type.as_deref().unwrap_or("unknown");
            let _ = writeln!(
                out,
                "{lead}  (incomplete: the stream view {view} has no diff)"
            );
        }
    }
    out
}

/// What the window holds after filtering: the matched documents in order, the problems.
#[derive(Debug, Default)]
pub struct Matched<'e> {
    pub documents: Vec<(&'e ChangeDocument, &'e Entry)>,
    pub problems: Vec<(&'e str, &'e Problem)>,
}

/// Keeps the documents of `table` created in the window that the filter keeps, once each,
/// in time order (sequence number within a time); gathers every problem found.
pub fn select<'e>(entries: &'e [Entry], query: &Query) -> Matched<'e> {
    let mut out = Matched::default();
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        out.problems.extend(
            entry
                .problems
                .iter()
                .filter(|p| !matches!(p, Problem::Unreadable { .. }))
                .map(|p| (entry.key.as_str(), p)),
        );
        let Some(doc) = entry.stored.as_ref().and_then(Stored::change) else {
            continue;
        };
        let in_window = doc
            .source
            .created()
            .is_some_and(|t| query.window.contains(t));
        if in_window
            && doc.table == query.table
            && query.filter.keeps(doc)
            && seen.insert(doc.event_id.clone())
        {
            out.documents.push((doc, entry));
        }
    }
    out.documents.sort_by_cached_key(|(doc, _)| {
        (
            doc.source.created(),
            format!(
                "{:0>width$}",
                doc.source.sequence_number,
                width = key::SEQUENCE_WIDTH
            ),
        )
    });
    out
}

/// `ddb-audit changes`: every matching change of the window on `out`, then a summary line
/// (on `err` with `--json`, so `out` stays JSON Lines); problems make the exit status 2.
pub async fn run<B: Bucket, W: Write>(
    bucket: &B,
    at: &Location,
    args: &ChangesArgs,
    now: Timestamp,
    progress: Option<W>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<i32, CommandError> {
    let query = Query::parse(args, now)?;
    let table_prefix = key::table_prefix(&at.prefix, &query.table);
    let layout = scan::layout(bucket, &table_prefix).await?;
    if layout.items.is_empty() && layout.days.is_empty() {
        return Err(no_table(bucket, at, &query.table).await);
    }
    // Record mode lists every item at once, under the items' common prefix: one paginated
    // listing (1,000 versions a page) instead of one per item, a request per page rather than
    // per item on S3.
    let mut prefixes = match &query.filter.key {
        _ if layout.items.is_empty() => Vec::new(),
        Some(keys) => vec![key::item_prefix(&at.prefix, &query.table, keys)],
        None => vec![format!("{table_prefix}item=")],
    };
    prefixes.extend(scan::partition_prefixes(
        &table_prefix,
        &layout.days,
        Some(&query.window),
    ));
    let histories = scan::list_all(bucket, prefixes).await?;
    let limit = if args.yes { None } else { at.max_objects };
    scan::guard(histories.len(), limit, bucket.name(), &table_prefix)?;
    let scanned = scan::fetch(bucket, histories, &mut Progress::new(progress)).await?;
    let matched = select(&scanned.entries, &query);
    for (doc, entry) in &matched.documents {
        if args.json {
            if let Some(text) = &entry.text {
                writeln!(out, "{text}")?;
            }
        } else {
            write!(out, "{}", render(doc))?;
        }
    }
    for (key, problem) in &matched.problems {
        writeln!(err, "ddb-audit: !! {key}: {problem}")?;
    }
    let items: std::collections::HashSet<String> = matched
        .documents
        .iter()
        .map(|(doc, _)| serde_json::to_string(&doc.key).expect("a key serializes"))
        .collect();
    let summary = format!(
        "{} documents read ({} objects, {} bytes); {} matched in {} items; window {}",
        scanned.documents,
        scanned.objects,
        scanned.bytes,
        matched.documents.len(),
        items.len(),
        query.window.describe()
    );
    if args.json {
        writeln!(err, "ddb-audit: {summary}")?;
    } else {
        writeln!(out, "{summary}")?;
    }
    Ok(if matched.problems.is_empty() {
        0
    } else {
        EXIT_FINDINGS
    })
}

/// The table has nothing under its prefix: say which tables there are.
async fn no_table<B: Bucket>(bucket: &B, at: &Location, table: &str) -> CommandError {
    let found = async {
        bucket.check().await?;
        crate::auditor::command::table_names(bucket, &at.prefix).await
    };
    match found.await {
        Ok(tables) => CommandError::NoTable {
            bucket: bucket.name().to_owned(),
            prefix: at.prefix.clone(),
            table: table.to_owned(),
            hint: if tables.is_empty() {
                " (nothing is there: check --bucket and --prefix)".to_owned()
            } else {
                format!(" (tables found: {})", tables.join(", "))
            },
        },
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(event: &str, changes: serde_json::Value) -> ChangeDocument {
        let value = json!({"schema": "ddb-audit/1", "event_id": "e", "event_name": event, "table": "Orders",
            "key": {"pk": {"S": "a"}}, "complete": true,
            "source": {"stream_arn": "arn", "region": "r", "account": "1", "approximate_creation_time": "2026-11-27T02:31:40.000Z", "sequence_number": "42"},
            "changes": changes});
        match Stored::from_value(value).unwrap() {
            Stored::Change(doc) => *doc,
            Stored::Unreadable(_) => unreachable!(),
        }
    }

    fn filter(path: Option<&str>, value: Option<&str>) -> Filter {
        Filter {
            path: path.map(|p| Pattern::parse(p).unwrap()),
            value: value.map(|v| parse_value(v).unwrap()),
            ..Filter::default()
        }
    }

    // --path and --value must hold for the same change; numbers compare by value (rule 1).
    #[test]
    fn path_and_value_hold_for_one_change() {
        let d = doc(
            "MODIFY",
            json!([{"op": "replace", "path": "/status", "old": {"S": "NEW"}, "new": {"S": "CANCELLED"}},
                   {"op": "replace", "path": "/total", "old": {"N": "1"}, "new": {"N": "10.50"}}]),
        );
        assert!(filter(Some("/status"), Some(r#"{"S":"CANCELLED"}"#)).keeps(&d));
        assert!(filter(None, Some(r#"{"N":"10.5"}"#)).keeps(&d));
        assert!(!filter(Some("/status"), Some(r#"{"N":"10.5"}"#)).keeps(&d));
        assert!(
            !filter(None, Some(r#"{"S":"NEW"}"#)).keeps(&d),
            "old values do not count"
        );
        assert!(filter(Some("/*"), None).keeps(&d));
        assert!(!filter(Some("/address"), None).keeps(&d));
    }

    // Each change is one line carrying time, event and key, rendered as history renders it.
    #[test]
    fn one_line_per_change() {
        let d = doc(
            "MODIFY",
            json!([{"op": "replace", "path": "/status", "old": {"S": "NEW"}, "new": {"S": "PAID"}},
                   {"op": "add", "path": "/n", "new": {"N": "1"}}]),
        );
        assert_eq!(
            render(&d),
            "2026-11-27T02:31:40.000Z  MODIFY  pk=\"a\"  /status: \"NEW\" → \"PAID\"\n\
             2026-11-27T02:31:40.000Z  MODIFY  pk=\"a\"  /n: ∅ → 1\n"
        );
    }

    // Bad flags fail before any request, naming the flag and the accepted form.
    #[test]
    fn bad_flags_name_themselves() {
        let now = Timestamp::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let base = ChangesArgs {
            table: "Orders".into(),
            since: "2026-11-27T10:00:00Z".into(),
            ..ChangesArgs::default()
        };
        let message = |args: ChangesArgs| Query::parse(&args, now).unwrap_err().to_string();
        assert!(
            message(ChangesArgs {
                path: Some("status".into()),
                ..base.clone()
            })
            .starts_with("--path: \"status\" is not a path pattern: it must start with '/'")
        );
        assert!(
            message(ChangesArgs {
                value: Some("CANCELLED".into()),
                ..base.clone()
            })
            .starts_with("--value: \"CANCELLED\" is not a typed DynamoDB value")
        );
        assert!(
            message(ChangesArgs {
                value: Some(r#"{"Z":"1"}"#.into()),
                ..base.clone()
            })
            .starts_with("--value: ")
        );
        assert_eq!(
            message(ChangesArgs {
                event: Some("UPSERT".into()),
                ..base.clone()
            }),
            "--event: \"UPSERT\" is not INSERT, MODIFY or REMOVE"
        );
        assert!(
            message(ChangesArgs {
                key: Some("pk:Z=1".into()),
                ..base.clone()
            })
            .starts_with("--key: ")
        );
        assert!(
            message(ChangesArgs {
                since: "noon".into(),
                ..base.clone()
            })
            .starts_with("--since: \"noon\" is not an RFC 3339 time")
        );
        assert!(
            message(ChangesArgs {
                until: Some("2026-11-27T09:00:00Z".into()),
                ..base
            })
            .starts_with("--until: ")
        );
    }
}
