//! Who made each change: one item's documents joined to the CloudTrail write events on its
//! table.
//!
//! No identifier links a stream record to its CloudTrail event, so the join is by table,
//! key, kind of operation and time, checked for consistency:
//! - **key**: CloudTrail's plain key (`{"pk":"ORDER#1","sk":7}`) against the typed one:
//!   strings equal, numbers by exact decimal value (a number given as JSON text or string),
//!   binary by decoded bytes. A batch put that shows the whole item is matched on its key
//!   attributes.
//! - **time**: both clocks are truncated to the second (the stream's creation time may be
//!   whole seconds; `eventTime` always is), the event is stamped when the request completed,
//!   just after the record was written, and two AWS fleets' clocks differ by milliseconds
//!   (NTP). A write is a candidate when its second is within [`WINDOW_SECONDS`] of the
//!   record's second, either side: one second for each truncation, one for the response.
//! - **kind**: REMOVE goes with a delete (DeleteItem, a Delete in a transaction or batch,
//!   PartiQL DELETE); INSERT and MODIFY with a put or an update (PutItem, UpdateItem, a Put
//!   or Update inside one, PartiQL INSERT or UPDATE).
//! - **consistency**, where the event says enough: a put's attribute names are the new
//!   image's names; an update's expression names every top-level attribute that changed.
//! - **order**: the k-th write on a key goes with the k-th change. A candidate is kept only
//!   if some assignment of distinct writes to the item's changes, in time order, gives it
//!   to this change. Writes that changed nothing (an identical put) have no stream record
//!   and stay unassigned; failed calls (`errorCode`) are never candidates.
//!
//! A change then has a `caller` (exactly one candidate), is `ambiguous` (several, listed),
//! is a `ttl` deletion (DynamoDB's own), or is `unknown`, with the reason. A write whose key
//! CloudTrail did not record (requestParameters dropped above 100 KB, PartiQL values
//! redacted) near the change keeps it from being named with certainty.
//! This module performs no IO.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::auditor::cloudtrail::{KeyView, Names, TrailEvent, Write, WriteKind};
use crate::document::ChangeDocument;
use crate::number;
use crate::record::EventName;
use crate::timestamp::Timestamp;
use crate::value::{AttributeValue, Item};

/// How far, in whole seconds either side, a write's `eventTime` may lie from the record's
/// creation second.
pub const WINDOW_SECONDS: i64 = 2;

const MILLIS_PER_HOUR: i64 = 3_600_000;

/// What the trail reader loaded, so that an empty answer can say why.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// The reader's clock: a change younger than the delivery allowance may not be in the
    /// trail yet.
    pub now: Option<Timestamp>,
    /// How long after a call its log file may arrive and still be read.
    pub delivery_allowance_ms: i64,
    /// Log files found per UTC hour listed (hour = unix millis / 3,600,000).
    pub files_per_hour: BTreeMap<i64, usize>,
}

impl Coverage {
    /// The UTC hours whose files may hold the events of a change made at `created`.
    pub fn hours_for(
        created: Timestamp,
        delivery_allowance_ms: i64,
    ) -> std::ops::RangeInclusive<i64> {
        let from = (created.unix_millis - WINDOW_SECONDS * 1000).div_euclid(MILLIS_PER_HOUR);
        let to = (created.unix_millis + delivery_allowance_ms).div_euclid(MILLIS_PER_HOUR);
        from..=to
    }
}

/// Who made one change.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribution<'e> {
    /// Exactly one write fits.
    Caller(&'e TrailEvent),
    /// Several fit: every one is listed. `hidden` counts writes nearby whose key CloudTrail
    /// did not record, which might be this change too.
    Ambiguous {
        candidates: Vec<&'e TrailEvent>,
        hidden: usize,
    },
    /// DynamoDB's TTL deleted the item: there is no caller.
    Ttl,
    /// No write fits; the reason says why.
    Unknown(String),
}

/// The events worth matching: each `eventID` once (a late file may repeat an event), and an
/// event replaced by an UPDATED_DATA addendum left out for its replacement.
pub fn deduplicate(events: &[TrailEvent]) -> Vec<&TrailEvent> {
    let replaced: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.original_event_id.as_deref())
        .filter(|original| !original.is_empty())
        .collect();
    let mut seen = HashSet::new();
    events
        .iter()
        .filter(|e| !(replaced.contains(e.event_id.as_str()) && e.original_event_id.is_none()))
        .filter(|e| seen.insert(e.event_id.as_str()))
        .collect()
}

/// Whether CloudTrail's plain value names the typed key value.
fn plain_eq(typed: &AttributeValue<'_>, plain: &Value) -> bool {
    // A plain value written typed (`{"S": "a"}`) is read as such.
    if let Some((tag, inner)) = plain
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    {
        if tag == typed.type_tag() {
            return plain_eq(typed, inner);
        }
        return false;
    }
    match (typed, plain) {
        (AttributeValue::S(s), Value::String(p)) => s == p,
        (AttributeValue::N(n), Value::String(p)) => number::num_eq(n, p),
        // serde_json keeps integers up to 64 bits exactly; larger JSON numbers arrive as
        // doubles, whose text is compared as a decimal (a 38-digit key may then not match,
        // which leaves the change unknown, never wrongly named).
        (AttributeValue::N(n), Value::Number(p)) => number::num_eq(n, &p.to_string()),
        (AttributeValue::B(b), Value::String(p)) => base64::engine::general_purpose::STANDARD
            .decode(p)
            .is_ok_and(|bytes| bytes == b.bytes),
        _ => false,
    }
}

/// Whether a plain key (or item) names the document's item: every key attribute equal.
pub fn key_matches(key: &Item<'_>, plain: &Map<String, Value>) -> bool {
    !key.is_empty()
        && key
            .iter()
            .all(|(name, typed)| plain.get(name).is_some_and(|p| plain_eq(typed, p)))
}

fn compatible(event_name: EventName, kind: WriteKind) -> bool {
    matches!(
        (event_name, kind),
        (_, WriteKind::Any)
            | (EventName::Remove, WriteKind::Delete)
            | (
                EventName::Insert | EventName::Modify,
                WriteKind::Put | WriteKind::Update
            )
    )
}

/// Whether what the write says about attribute names agrees with the change.
fn consistent(doc: &ChangeDocument, write: &Write) -> bool {
    match &write.names {
        Names::Item(names) => doc.new_image.as_ref().is_none_or(|image| {
            image.len() == names.len() && image.iter().all(|(name, _)| names.contains(name))
        }),
        Names::Expression(names) => doc.changes.as_ref().is_none_or(|changes| {
            changes.iter().all(|change| {
                let top = change.segments().into_iter().next().unwrap_or_default();
                // An update that creates the item adds its key attributes too.
                doc.key.get(&top).is_some() || names.contains(&top)
            })
        }),
        Names::Unknown => true,
    }
}

fn seconds(t: Timestamp) -> i64 {
    t.unix_millis.div_euclid(1000)
}

/// One write on the item's key by a successful event.
#[derive(Debug, Clone, Copy)]
struct KeyWrite<'e> {
    event: &'e TrailEvent,
    write: &'e Write,
}

/// What one change found near it before the order is applied.
#[derive(Debug, Default)]
struct Nearby {
    /// Indices into the item's key writes.
    candidates: Vec<usize>,
    hidden_omitted: usize,
    hidden_redacted: usize,
    failed: Vec<String>,
    misfit: usize,
}

/// Assigns each document (one item's, in stream order) its caller from `events` (any
/// tables, any order, duplicates allowed).
pub fn attribute<'e>(
    docs: &[&ChangeDocument],
    events: &'e [TrailEvent],
    coverage: &Coverage,
) -> Vec<Attribution<'e>> {
    let Some(first) = docs.first() else {
        return Vec::new();
    };
    let (table, key) = (&first.table, &first.key);
    let events = deduplicate(events);
    // Every write on this item's key, in time order (ties keep file order).
    let mut key_writes: Vec<KeyWrite<'e>> = Vec::new();
    let mut failed_writes: Vec<KeyWrite<'e>> = Vec::new();
    let mut hidden: Vec<KeyWrite<'e>> = Vec::new();
    for event in &events {
        for write in &event.writes {
            if write.table.as_deref() != Some(table.as_str()) {
                continue;
            }
            let kw = KeyWrite { event, write };
            match &write.key {
                KeyView::Plain(plain) if key_matches(key, plain) => {
                    if event.succeeded() {
                        key_writes.push(kw);
                    } else {
                        failed_writes.push(kw);
                    }
                }
                KeyView::Plain(_) => {}
                KeyView::Omitted | KeyView::Redacted => {
                    if event.succeeded() {
                        hidden.push(kw);
                    }
                }
            }
        }
    }
    key_writes.sort_by_key(|kw| seconds(kw.event.event_time));
    let near = |doc: &ChangeDocument, t: Timestamp| {
        doc.source
            .created()
            .is_some_and(|c| (seconds(t) - seconds(c)).abs() <= WINDOW_SECONDS)
    };
    let nearby: Vec<Nearby> = docs
        .iter()
        .map(|doc| {
            let mut found = Nearby::default();
            if doc.ttl_expiry {
                return found;
            }
            for (index, kw) in key_writes.iter().enumerate() {
                if !near(doc, kw.event.event_time) {
                    continue;
                }
                if compatible(doc.event_name, kw.write.kind) && consistent(doc, kw.write) {
                    found.candidates.push(index);
                } else {
                    found.misfit += 1;
                }
            }
            for kw in &failed_writes {
                if near(doc, kw.event.event_time) {
                    found
                        .failed
                        .push(kw.event.error_code.clone().unwrap_or_default());
                }
            }
            for kw in &hidden {
                if near(doc, kw.event.event_time) && compatible(doc.event_name, kw.write.kind) {
                    match kw.write.key {
                        KeyView::Omitted => found.hidden_omitted += 1,
                        _ => found.hidden_redacted += 1,
                    }
                }
            }
            found
        })
        .collect();
    let times: Vec<i64> = key_writes
        .iter()
        .map(|kw| seconds(kw.event.event_time))
        .collect();
    let ordered = in_order(&nearby, &times);
    docs.iter()
        .zip(&nearby)
        .zip(ordered)
        .map(|((doc, found), candidates)| {
            if doc.ttl_expiry {
                return Attribution::Ttl;
            }
            let hidden = found.hidden_omitted + found.hidden_redacted;
            match candidates.as_slice() {
                [one] if hidden == 0 => Attribution::Caller(key_writes[*one].event),
                [] => Attribution::Unknown(why_unknown(doc, found, coverage)),
                several => Attribution::Ambiguous {
                    candidates: several.iter().map(|&i| key_writes[i].event).collect(),
                    hidden,
                },
            }
        })
        .collect()
}

/// The candidates of each change that some order-respecting assignment gives it: distinct
/// writes, non-decreasing in time along the stream. When no such assignment exists at all
/// (a write is missing from the trail), each change keeps its own candidates.
fn in_order(nearby: &[Nearby], times: &[i64]) -> Vec<Vec<usize>> {
    let raw: Vec<Vec<usize>> = nearby.iter().map(|n| n.candidates.clone()).collect();
    // prefix[k]: the states reachable after assigning changes 0..k.
    let mut prefix = vec![BTreeSet::from([State::start()])];
    for own in &raw {
        let next = step(prefix.last().expect("starts with one"), own, times);
        if next.len() > MAX_STATES {
            return raw;
        }
        prefix.push(next);
    }
    if prefix.last().is_none_or(BTreeSet::is_empty) {
        return raw;
    }
    raw.iter()
        .enumerate()
        .map(|(i, own)| {
            own.iter()
                .copied()
                .filter(|&w| {
                    let mut states = step(&prefix[i], &[w], times);
                    for later in &raw[i + 1..] {
                        if states.is_empty() {
                            break;
                        }
                        states = step(&states, later, times);
                    }
                    !states.is_empty()
                })
                .collect()
        })
        .collect()
}

/// More partial assignments than this (many writes in one second) and the order is not used.
const MAX_STATES: usize = 20_000;

/// A partial assignment as far as the rest of the stream cares: the time of the last write
/// given, and which writes of that second are taken (earlier seconds can no longer be used).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct State {
    time: i64,
    used: BTreeSet<usize>,
}

impl State {
    fn start() -> Self {
        Self {
            time: i64::MIN,
            used: BTreeSet::new(),
        }
    }
}

/// The states after the next change takes one of `own` (a change with no candidates takes
/// nothing and leaves the states as they are).
fn step(states: &BTreeSet<State>, own: &[usize], times: &[i64]) -> BTreeSet<State> {
    if own.is_empty() {
        return states.clone();
    }
    let mut next = BTreeSet::new();
    for state in states {
        for &w in own {
            let t = times[w];
            if t > state.time {
                next.insert(State {
                    time: t,
                    used: BTreeSet::from([w]),
                });
            } else if t == state.time && !state.used.contains(&w) {
                let mut used = state.used.clone();
                used.insert(w);
                next.insert(State { time: t, used });
            }
        }
    }
    next
}

fn why_unknown(doc: &ChangeDocument, found: &Nearby, coverage: &Coverage) -> String {
    let window = format!("within {WINDOW_SECONDS} s of the change");
    if found.hidden_omitted + found.hidden_redacted > 0 {
        let mut why = Vec::new();
        if found.hidden_omitted > 0 {
            why.push(format!(
                "{} with requestParameters omitted by CloudTrail (over 100 KB)",
                found.hidden_omitted
            ));
        }
        if found.hidden_redacted > 0 {
            why.push(format!(
                "{} PartiQL statement(s) whose key values are redacted",
                found.hidden_redacted
            ));
        }
        return format!(
            "CloudTrail did not record the key of the writes on {} {window}: {}",
            doc.table,
            why.join(", ")
        );
    }
    if !found.failed.is_empty() {
        let codes: BTreeSet<&str> = found.failed.iter().map(String::as_str).collect();
        return format!(
            "the only calls on this key {window} failed ({}) and changed nothing",
            codes.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if found.misfit > 0 {
        return format!(
            "{} write(s) on this key {window} do not fit it (another kind of operation, or other attributes)",
            found.misfit
        );
    }
    let Some(created) = doc.source.created() else {
        return "the record has no creation time to match on".to_owned();
    };
    let due = created.unix_millis + coverage.delivery_allowance_ms;
    if coverage.now.is_some_and(|now| now.unix_millis < due) {
        return format!(
            "the trail had not been delivered yet (CloudTrail delivers about 5 minutes after a call; allowance {} min)",
            coverage.delivery_allowance_ms / 60_000
        );
    }
    let files: usize = Coverage::hours_for(created, coverage.delivery_allowance_ms)
        .map(|h| coverage.files_per_hour.get(&h).copied().unwrap_or(0))
        .sum();
    if files == 0 {
        let (date, hour) = created.date_hour();
        return format!("no trail events loaded for that hour (no log files for {date}T{hour}h)");
    }
    format!(
        "no write on this key in the trail {window} (files delivered up to {} min after it were read; a later delivery needs a longer allowance)",
        coverage.delivery_allowance_ms / 60_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Stored;
    use serde::Deserialize as _;
    use serde_json::json;

    const TABLE: &str = "Orders";

    /// A change document of item `key` made at `time` (RFC 3339).
    fn doc(
        name: &str,
        key: Value,
        time: &str,
        old: Option<Value>,
        new: Option<Value>,
    ) -> ChangeDocument {
        let images: (Item<'static>, Item<'static>) = (
            Item::deserialize(old.clone().unwrap_or(json!({}))).unwrap(),
            Item::deserialize(new.clone().unwrap_or(json!({}))).unwrap(),
        );
        let changes: Vec<Value> = crate::diff::diff(&images.0, &images.1)
            .into_iter()
            .map(|c| serde_json::to_value(c.into_owned()).unwrap())
            .collect();
        let value = json!({"schema": "ddb-audit/1", "event_id": "e", "event_name": name, "table": TABLE,
            "key": key, "complete": true, "changes": changes, "old_image": old, "new_image": new,
            "ttl_expiry": false,
            "source": {"stream_arn": "arn", "region": "eu-west-1", "account": "123456789012",
                       "sequence_number": "1", "approximate_creation_time": time}});
        match Stored::from_value(value).unwrap() {
            Stored::Change(doc) => *doc,
            Stored::Unreadable(_) => unreachable!(),
        }
    }

    fn event(id: &str, name: &str, time: &str, who: &str, parameters: Value) -> TrailEvent {
        let record = json!({"eventSource": "dynamodb.amazonaws.com", "eventName": name, "eventTime": time,
            "eventID": id, "requestID": format!("REQ-{id}"), "sourceIPAddress": "10.0.3.7", "userAgent": "Boto3/1.35",
            "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::123456789012:user/{who}")},
            "requestParameters": parameters,
            "resources": [{"type": "AWS::DynamoDB::Table", "ARN": format!("arn:aws:dynamodb:eu-west-1:123456789012:table/{TABLE}")}]});
        TrailEvent::from_record(&record).unwrap()
    }

    fn put(key: Value, names: &[&str]) -> Value {
        json!({"tableName": TABLE, "key": key, "item": names})
    }

    fn update(key: Value, expression: &str) -> Value {
        json!({"tableName": TABLE, "key": key, "updateExpression": expression})
    }

    /// A PutItem of item `pk = a` naming `names`.
    fn put_a(id: &str, time: &str, who: &str, names: &[&str]) -> TrailEvent {
        event(id, "PutItem", time, who, put(json!({"pk": "a"}), names))
    }

    /// Who made the first document's change, as a short word.
    fn answer(docs: &[&ChangeDocument], events: &[TrailEvent]) -> String {
        who(&attribute(docs, events, &coverage())[0])
    }

    fn insert_a(time: &str, new: Value) -> ChangeDocument {
        doc("INSERT", pk("a"), time, None, Some(new))
    }

    fn modify_a(time: &str, old: Value, new: Value) -> ChangeDocument {
        doc("MODIFY", pk("a"), time, Some(old), Some(new))
    }

    fn coverage() -> Coverage {
        Coverage {
            now: Timestamp::parse_rfc3339("2026-12-01T00:00:00Z"),
            delivery_allowance_ms: 15 * 60_000,
            files_per_hour: BTreeMap::new(),
        }
    }

    fn who(a: &Attribution<'_>) -> String {
        match a {
            Attribution::Caller(e) => e.caller.name().rsplit('/').next().unwrap().to_owned(),
            Attribution::Ambiguous { candidates, hidden } => format!(
                "ambiguous:{}{}",
                candidates
                    .iter()
                    .map(|e| e.caller.name().rsplit('/').next().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                if *hidden > 0 {
                    format!("+{hidden} hidden")
                } else {
                    String::new()
                }
            ),
            Attribution::Ttl => "ttl".into(),
            Attribution::Unknown(why) => format!("unknown: {why}"),
        }
    }

    fn pk(v: &str) -> Value {
        json!({"pk": {"S": v}})
    }

    fn item(v: &str, extra: Value) -> Value {
        let mut m = extra.as_object().cloned().unwrap_or_default();
        m.insert("pk".into(), json!({"S": v}));
        Value::Object(m)
    }

    // One write, one change: its caller is named.
    #[test]
    fn one_write_names_its_caller() {
        let d = insert_a(
            "2026-11-27T10:00:00.400Z",
            item("a", json!({"n": {"N": "1"}})),
        );
        let events = [put_a("1", "2026-11-27T10:00:01Z", "alice", &["pk", "n"])];
        assert_eq!(answer(&[&d], &events), "alice");
    }

    // Two writes to one key in one second: ambiguous when nothing tells them apart, resolved
    // when the attribute names show which write made which change.
    #[test]
    fn two_writes_in_one_second() {
        let v1 = item("a", json!({"n": {"N": "1"}}));
        let v2 = item("a", json!({"n": {"N": "2"}}));
        let v3 = item("a", json!({"n": {"N": "2"}, "s": {"S": "x"}}));
        let t = "2026-11-27T10:00:00.100Z";
        let d1 = doc("MODIFY", pk("a"), t, Some(v1.clone()), Some(v2.clone()));
        let d2 = doc("MODIFY", pk("a"), t, Some(v2.clone()), Some(v3.clone()));
        let alike = [
            put_a("1", "2026-11-27T10:00:00Z", "alice", &["pk", "n"]),
            put_a("2", "2026-11-27T10:00:00Z", "bob", &["pk", "n"]),
        ];
        let r = attribute(&[&d1, &d2], &alike, &coverage());
        assert_eq!(who(&r[0]), "ambiguous:alice,bob");
        // Updates naming different attributes: each change has its own write.
        let told_apart = [
            event(
                "1",
                "UpdateItem",
                "2026-11-27T10:00:00Z",
                "alice",
                update(json!({"pk": "a"}), "SET s = :s"),
            ),
            event(
                "2",
                "UpdateItem",
                "2026-11-27T10:00:00Z",
                "bob",
                update(json!({"pk": "a"}), "SET n = :n"),
            ),
        ];
        let r = attribute(&[&d1, &d2], &told_apart, &coverage());
        assert_eq!((who(&r[0]), who(&r[1])), ("bob".into(), "alice".into()));
    }

    // Writes in successive seconds go to the changes in the same order, though each falls in
    // both changes' windows.
    #[test]
    fn order_is_respected() {
        let v1 = item("a", json!({"n": {"N": "1"}}));
        let v2 = item("a", json!({"n": {"N": "2"}}));
        let d1 = insert_a("2026-11-27T10:00:00.900Z", v1.clone());
        let d2 = modify_a("2026-11-27T10:00:01.100Z", v1, v2);
        let events = [
            put_a("2", "2026-11-27T10:00:02Z", "bob", &["pk", "n"]),
            put_a("1", "2026-11-27T10:00:01Z", "alice", &["pk", "n"]),
        ];
        let r = attribute(&[&d1, &d2], &events, &coverage());
        assert_eq!((who(&r[0]), who(&r[1])), ("alice".into(), "bob".into()));
    }

    // The order check is exact, not greedy: giving the first change the first write that
    // fits would leave none for the third, so the first change must have the other one.
    #[test]
    fn the_order_check_looks_ahead() {
        let t = "2026-11-27T10:00:00.500Z";
        let v0 = item(
            "a",
            json!({"n": {"N": "0"}, "m": {"N": "0"}, "s": {"S": "a"}}),
        );
        let v1 = item(
            "a",
            json!({"n": {"N": "1"}, "m": {"N": "0"}, "s": {"S": "a"}}),
        );
        let v2 = item(
            "a",
            json!({"n": {"N": "1"}, "m": {"N": "0"}, "s": {"S": "b"}}),
        );
        let v3 = item(
            "a",
            json!({"n": {"N": "2"}, "m": {"N": "2"}, "s": {"S": "b"}}),
        );
        let docs = [
            modify_a(t, v0, v1.clone()),
            modify_a(t, v1, v2.clone()),
            modify_a(t, v2, v3),
        ];
        let second = "2026-11-27T10:00:00Z";
        let events = [
            event(
                "x",
                "UpdateItem",
                second,
                "xavier",
                update(json!({"pk": "a"}), "SET n = :n, m = :m"),
            ),
            event(
                "y",
                "UpdateItem",
                second,
                "yves",
                update(json!({"pk": "a"}), "SET n = :n"),
            ),
            event(
                "w",
                "UpdateItem",
                second,
                "wanda",
                update(json!({"pk": "a"}), "SET s = :s"),
            ),
        ];
        let r = attribute(&[&docs[0], &docs[1], &docs[2]], &events, &coverage());
        let names: Vec<String> = r.iter().map(who).collect();
        assert_eq!(names, ["yves", "wanda", "xavier"]);
    }

    // A conditional write that failed changed nothing: never a caller, and said so.
    #[test]
    fn a_failed_conditional_write_is_never_the_caller() {
        let d = insert_a("2026-11-27T10:00:00.400Z", item("a", json!({})));
        let mut failed = put_a("1", "2026-11-27T10:00:00Z", "mallory", &["pk"]);
        failed.error_code = Some("ConditionalCheckFailedException".into());
        let ok = put_a("2", "2026-11-27T10:00:00Z", "alice", &["pk"]);
        assert_eq!(answer(&[&d], &[failed.clone(), ok]), "alice");
        assert_eq!(
            answer(&[&d], &[failed]),
            "unknown: the only calls on this key within 2 s of the change failed (ConditionalCheckFailedException) and changed nothing"
        );
    }

    // A put identical to the item has no stream record: its write stays unassigned and the
    // real changes around it keep their callers.
    #[test]
    fn a_no_op_write_stays_unmatched() {
        let v1 = item("a", json!({"n": {"N": "1"}}));
        let v2 = item("a", json!({"n": {"N": "2"}}));
        let d1 = insert_a("2026-11-27T10:00:00.100Z", v1.clone());
        let d2 = modify_a("2026-11-27T10:00:06.100Z", v1, v2);
        let events = [
            put_a("1", "2026-11-27T10:00:00Z", "alice", &["pk", "n"]),
            put_a("2", "2026-11-27T10:00:03Z", "carol", &["pk", "n"]),
            event(
                "3",
                "UpdateItem",
                "2026-11-27T10:00:06Z",
                "bob",
                update(json!({"pk": "a"}), "SET n = :n"),
            ),
        ];
        let r = attribute(&[&d1, &d2], &events, &coverage());
        assert_eq!((who(&r[0]), who(&r[1])), ("alice".into(), "bob".into()));
    }

    // One transaction touching three items is the caller of each item's change; its
    // ConditionCheck entry writes nothing.
    #[test]
    fn a_transaction_over_three_items() {
        let tx = event(
            "1",
            "TransactWriteItems",
            "2026-11-27T10:00:00Z",
            "alice",
            json!({"requestItems": [
            {"operation": "Put", "tableName": TABLE, "key": {"pk": "a"}, "items": ["pk"]},
            {"operation": "Update", "TableName": TABLE, "Key": {"pk": "b"}, "updateExpression": "SET #n = :n", "expressionAttributeNames": {"#n": "n"}},
            {"operation": "Delete", "tableName": TABLE, "key": {"pk": "c"}},
            {"operation": "ConditionCheck", "tableName": TABLE, "key": {"pk": "d"}}]}),
        );
        let t = "2026-11-27T10:00:00.010Z";
        let a = doc("INSERT", pk("a"), t, None, Some(item("a", json!({}))));
        let b = doc(
            "MODIFY",
            pk("b"),
            t,
            Some(item("b", json!({"n": {"N": "1"}}))),
            Some(item("b", json!({"n": {"N": "2"}}))),
        );
        let c = doc("REMOVE", pk("c"), t, Some(item("c", json!({}))), None);
        let d = doc(
            "MODIFY",
            pk("d"),
            t,
            Some(item("d", json!({"n": {"N": "1"}}))),
            Some(item("d", json!({"n": {"N": "2"}}))),
        );
        let events = [tx];
        for x in [&a, &b, &c] {
            assert_eq!(answer(&[x], &events), "alice");
        }
        assert!(answer(&[&d], &events).starts_with("unknown"));
    }

    // A BatchWriteItem's put and delete requests each name their item.
    #[test]
    fn a_batch_write() {
        let batch = event(
            "1",
            "BatchWriteItem",
            "2026-11-27T10:00:00Z",
            "bob",
            json!({"requestItems": {TABLE: [
            {"PutRequest": {"Item": {"pk": "a", "n": 1}}}, {"DeleteRequest": {"Key": {"pk": "b"}}}]}}),
        );
        let t = "2026-11-27T10:00:00.010Z";
        let a = doc(
            "INSERT",
            pk("a"),
            t,
            None,
            Some(item("a", json!({"n": {"N": "1"}}))),
        );
        let b = doc("REMOVE", pk("b"), t, Some(item("b", json!({}))), None);
        let events = [batch];
        assert_eq!(answer(&[&a], &events), "bob");
        assert_eq!(answer(&[&b], &events), "bob");
    }

    // A PartiQL UPDATE that shows its key names its caller; one that hides it cannot, and
    // keeps a visible candidate nearby from being named with certainty.
    #[test]
    fn a_partiql_update() {
        let d = modify_a(
            "2026-11-27T10:00:00.010Z",
            item("a", json!({"n": {"N": "1"}})),
            item("a", json!({"n": {"N": "2"}})),
        );
        let shown = event(
            "1",
            "ExecuteStatement",
            "2026-11-27T10:00:00Z",
            "alice",
            json!({"statement": "UPDATE \"Orders\" SET n = ***(Redacted) WHERE pk = 'a'"}),
        );
        assert_eq!(answer(&[&d], &[shown]), "alice");
        let hidden = event(
            "2",
            "ExecuteStatement",
            "2026-11-27T10:00:00Z",
            "bob",
            json!({"statement": "UPDATE \"Orders\" SET n = ***(Redacted) WHERE pk = ***(Redacted)"}),
        );
        assert_eq!(
            answer(&[&d], std::slice::from_ref(&hidden)),
            "unknown: CloudTrail did not record the key of the writes on Orders within 2 s of the change: 1 PartiQL statement(s) whose key values are redacted"
        );
        let visible = event(
            "3",
            "UpdateItem",
            "2026-11-27T10:00:00Z",
            "carol",
            update(json!({"pk": "a"}), "SET n = :n"),
        );
        assert_eq!(
            answer(&[&d], &[visible, hidden]),
            "ambiguous:carol+1 hidden"
        );
    }

    // DynamoDB's TTL deletes without a caller, whatever the trail holds.
    #[test]
    fn a_ttl_deletion_has_no_caller() {
        let mut d = doc(
            "REMOVE",
            pk("a"),
            "2026-11-27T10:00:00.010Z",
            Some(item("a", json!({}))),
            None,
        );
        d.ttl_expiry = true;
        let events = [event(
            "1",
            "DeleteItem",
            "2026-11-27T10:00:00Z",
            "alice",
            json!({"tableName": TABLE, "key": {"pk": "a"}}),
        )];
        assert_eq!(attribute(&[&d], &events, &coverage())[0], Attribution::Ttl);
    }

    // A late event (delivered again with an addendum) counts once; one replaced by an
    // UPDATED_DATA addendum gives way to its replacement.
    #[test]
    fn late_delivery_with_an_addendum() {
        let d = insert_a("2026-11-27T10:00:00.010Z", item("a", json!({})));
        let first = put_a("1", "2026-11-27T10:00:00Z", "alice", &["pk"]);
        let mut late = first.clone();
        late.addendum = Some("DELIVERY_DELAY".into());
        assert_eq!(answer(&[&d], &[first.clone(), late.clone()]), "alice");
        assert_eq!(answer(&[&d], &[late]), "alice");
        let mut updated = put_a("9", "2026-11-27T10:00:00Z", "alice-corrected", &["pk"]);
        updated.addendum = Some("UPDATED_DATA".into());
        updated.original_event_id = Some("1".into());
        assert_eq!(answer(&[&d], &[first, updated]), "alice-corrected");
    }

    // Numbers match by value, binary by bytes, strings with `/` and Unicode exactly.
    #[test]
    fn keys_of_every_type() {
        let key =
            json!({"pk": {"S": "tenant/a b,c=d 注文#ü"}, "sk": {"N": "1.50"}, "b": {"B": "AAE="}});
        let plain = json!({"pk": "tenant/a b,c=d 注文#ü", "sk": 1.5, "b": "AAE="});
        let typed = Item::deserialize(key.clone()).unwrap();
        assert!(key_matches(&typed, plain.as_object().unwrap()));
        let as_text = json!({"pk": "tenant/a b,c=d 注文#ü", "sk": "1.500", "b": "AAE="});
        assert!(key_matches(&typed, as_text.as_object().unwrap()));
        for wrong in [
            json!({"pk": "tenant/a b,c=d 注文#u", "sk": 1.5, "b": "AAE="}),
            json!({"pk": "tenant/a b,c=d 注文#ü", "sk": 15, "b": "AAE="}),
            json!({"pk": "tenant/a b,c=d 注文#ü", "sk": 1.5, "b": "AAI="}),
            json!({"pk": "tenant/a b,c=d 注文#ü", "sk": "1.5"}),
        ] {
            assert!(!key_matches(&typed, wrong.as_object().unwrap()), "{wrong}");
        }
    }

    // The same key in another table of the same trail is somebody else's item.
    #[test]
    fn two_tables_in_one_trail() {
        let d = insert_a("2026-11-27T10:00:00.010Z", item("a", json!({})));
        let mut other = event(
            "1",
            "PutItem",
            "2026-11-27T10:00:00Z",
            "mallory",
            json!({"tableName": "Invoices", "key": {"pk": "a"}, "item": ["pk"]}),
        );
        other.writes[0].table = Some("Invoices".into());
        let ours = put_a("2", "2026-11-27T10:00:00Z", "alice", &["pk"]);
        assert_eq!(answer(&[&d], &[other.clone(), ours]), "alice");
        assert_eq!(
            answer(&[&d], &[other]),
            "unknown: no trail events loaded for that hour (no log files for 2026-11-27T10h)"
        );
    }

    // An empty answer says why: not delivered yet, no files, or nothing on this key.
    #[test]
    fn unknown_says_why() {
        let d = insert_a("2026-11-27T10:00:00.010Z", item("a", json!({})));
        let mut young = coverage();
        young.now = Timestamp::parse_rfc3339("2026-11-27T10:03:00Z");
        assert!(who(&attribute(&[&d], &[], &young)[0]).contains("had not been delivered yet"));
        let mut loaded = coverage();
        loaded
            .files_per_hour
            .insert(1_795_773_600_000 / MILLIS_PER_HOUR, 3);
        assert_eq!(
            who(&attribute(&[&d], &[], &loaded)[0]),
            "unknown: no write on this key in the trail within 2 s of the change (files delivered up to 15 min after it were read; a later delivery needs a longer allowance)"
        );
    }
}
