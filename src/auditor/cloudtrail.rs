//! CloudTrail log files and the DynamoDB write events in them: what the matcher
//! ([`crate::auditor::attribution`]) needs from a trail, read once into types.
//!
//! A trail delivers gzip JSON `{"Records":[…]}` files under
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` named
//! `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`, the time being the
//! delivery time (a file holds events from any time before it). A DynamoDB data event names
//! the caller and the item's key as plain JSON (`{"pk":"ORDER#1"}`) but no values: PutItem
//! lists the attribute *names* it wrote, UpdateItem keeps its `updateExpression` and
//! `expressionAttributeNames`, transactions and batches list one entry per item (member names
//! in varying case, so every lookup here ignores case), PartiQL keeps its statement with
//! values shown as `***(Redacted)`. Above 100 KB CloudTrail drops `requestParameters`.
//! This module performs no IO: it reads bytes already fetched.

use std::collections::BTreeSet;
use std::io::Read as _;

use serde_json::{Map, Value};

use crate::timestamp::Timestamp;

/// The DynamoDB data events that can change an item.
const WRITE_EVENTS: [&str; 8] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Why a log file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("not gzip: {0}")]
    Gzip(#[source] std::io::Error),
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("no \"Records\" array")]
    NoRecords,
}

/// Who made a call, as CloudTrail recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// `userIdentity.type`: IAMUser, AssumedRole, AWSService, …
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub arn: Option<String>,
    pub account_id: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn`: the role behind an assumed-role session.
    pub session_issuer: Option<String>,
    /// `userIdentity.invokedBy`: the service that called on the principal's behalf.
    pub invoked_by: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Caller {
    /// The principal as an auditor names it: the ARN, else the principal id, else the service.
    pub fn name(&self) -> &str {
        self.arn
            .as_deref()
            .or(self.principal_id.as_deref())
            .or(self.invoked_by.as_deref())
            .unwrap_or("(unnamed principal)")
    }
}

/// What a write does to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Put,
    Update,
    Delete,
    /// Unknown: `requestParameters` omitted from a batch or transaction.
    Any,
}

/// The key of a written item, as far as CloudTrail shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyView {
    /// Plain JSON values by attribute name (a key, or a whole item of a batch put).
    Plain(Map<String, Value>),
    /// `requestParameters` were dropped (over 100 KB): the key is unknown.
    Omitted,
    /// A PartiQL statement whose key values are redacted or absent.
    Redacted,
}

/// What a write says about the attributes it touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    /// A put: every top-level attribute name of the new item.
    Item(BTreeSet<String>),
    /// An update: every top-level name its expression mentions (a superset of those it sets).
    Expression(BTreeSet<String>),
    /// Nothing is said (deletes, PartiQL, omitted parameters).
    Unknown,
}

/// One item written by an event (a single-item call has one; a batch or transaction many).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// The table, when the event says (`tableName`, the statement, or the one resource).
    pub table: Option<String>,
    pub kind: WriteKind,
    pub key: KeyView,
    pub names: Names,
}

/// One DynamoDB write event from a trail.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEvent {
    pub event_id: String,
    pub event_name: String,
    /// `eventTime`: when the request completed, to the second.
    pub event_time: Timestamp,
    pub caller: Caller,
    /// `errorCode`: set on a failed call, which changed nothing.
    pub error_code: Option<String>,
    /// `addendum.reason` (DELIVERY_DELAY, UPDATED_DATA, SERVICE_OUTAGE) on a late event.
    pub addendum: Option<String>,
    /// `addendum.originalEventID`: the event an UPDATED_DATA event replaces.
    pub original_event_id: Option<String>,
    pub writes: Vec<Write>,
}

/// A member of a JSON object, its name compared without case.
fn member<'v>(object: &'v Value, name: &str) -> Option<&'v Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn text(object: &Value, name: &str) -> Option<String> {
    member(object, name)?.as_str().map(str::to_owned)
}

/// The table named by a DynamoDB table ARN (`arn:aws:dynamodb:r:a:table/Name[/…]`).
pub fn table_of_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":table/")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// Reads one delivered log file (gzip, or plain JSON) and keeps its DynamoDB write events.
pub fn parse_log(bytes: &[u8]) -> Result<Vec<TrailEvent>, LogError> {
    let mut text = Vec::new();
    let json: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(LogError::Gzip)?;
        &text
    } else {
        bytes
    };
    let log: Value = serde_json::from_slice(&exact_numbers(json)).map_err(LogError::Json)?;
    let records = log
        .get("Records")
        .and_then(Value::as_array)
        .ok_or(LogError::NoRecords)?;
    Ok(records.iter().filter_map(TrailEvent::from_record).collect())
}

/// The JSON text with every number of more than 15 significant digits turned into a string
/// of the same text, so that a 38-digit key keeps every digit (serde_json reads such a
/// number as a double); the matcher compares strings and numbers by decimal value alike.
fn exact_numbers(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + 16);
    let (mut i, mut in_string) = (0, false);
    while i < json.len() {
        let b = json[i];
        if in_string {
            out.push(b);
            if b == b'\\' {
                if let Some(&next) = json.get(i + 1) {
                    out.push(next);
                    i += 1;
                }
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < json.len()
                && matches!(json[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let token = &json[start..i];
            let digits = token
                .iter()
                .take_while(|c| !matches!(c, b'e' | b'E'))
                .filter(|c| c.is_ascii_digit())
                .count();
            if digits > 15 {
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
            } else {
                out.extend_from_slice(token);
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

impl TrailEvent {
    /// The event of one record, when it is a DynamoDB write call; `None` for anything else.
    pub fn from_record(record: &Value) -> Option<Self> {
        if record.get("eventSource")?.as_str()? != "dynamodb.amazonaws.com" {
            return None;
        }
        let event_name = record.get("eventName")?.as_str()?;
        if !WRITE_EVENTS.contains(&event_name) {
            return None;
        }
        let event_time = Timestamp::parse_rfc3339(record.get("eventTime")?.as_str()?)?;
        let identity = record.get("userIdentity").unwrap_or(&Value::Null);
        let caller = Caller {
            identity_type: text(identity, "type"),
            principal_id: text(identity, "principalId"),
            arn: text(identity, "arn"),
            account_id: text(identity, "accountId"),
            session_issuer: identity
                .pointer("/sessionContext/sessionIssuer/arn")
                .and_then(Value::as_str)
                .map(str::to_owned),
            invoked_by: text(identity, "invokedBy"),
            source_ip: text(record, "sourceIPAddress"),
            user_agent: text(record, "userAgent"),
            request_id: text(record, "requestID"),
        };
        let resource_tables: Vec<String> = record
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| table_of_arn(member(r, "ARN")?.as_str()?).map(str::to_owned))
            .collect();
        // A single resource names the table of every write that does not name its own.
        let only_table = match resource_tables.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        };
        let addendum = record.get("addendum");
        Some(Self {
            event_id: record.get("eventID")?.as_str()?.to_owned(),
            event_name: event_name.to_owned(),
            event_time,
            caller,
            error_code: text(record, "errorCode"),
            addendum: addendum.and_then(|a| text(a, "reason")),
            original_event_id: addendum.and_then(|a| text(a, "originalEventID")),
            writes: writes(
                event_name,
                record.get("requestParameters"),
                &resource_tables,
                only_table,
            ),
        })
    }

    /// A failed call changed nothing, so it is never anybody's change.
    pub fn succeeded(&self) -> bool {
        self.error_code.is_none()
    }
}

/// The items an event wrote, from its `requestParameters`.
fn writes(
    event_name: &str,
    parameters: Option<&Value>,
    resource_tables: &[String],
    only_table: Option<String>,
) -> Vec<Write> {
    let parameters = match parameters {
        Some(p) if p.is_object() => p,
        // Dropped above 100 KB: one unknown write per table the event touched.
        _ => {
            let kind = match event_name {
                "PutItem" => WriteKind::Put,
                "UpdateItem" => WriteKind::Update,
                "DeleteItem" => WriteKind::Delete,
                _ => WriteKind::Any,
            };
            return resource_tables
                .iter()
                .map(|t| Write {
                    table: Some(t.clone()),
                    kind,
                    key: KeyView::Omitted,
                    names: Names::Unknown,
                })
                .collect();
        }
    };
    let single = |kind| vec![item_write(parameters, kind, only_table.clone())];
    match event_name {
        "PutItem" => single(WriteKind::Put),
        "UpdateItem" => single(WriteKind::Update),
        "DeleteItem" => single(WriteKind::Delete),
        "ExecuteStatement" => statement_write(parameters, only_table.as_deref())
            .into_iter()
            .collect(),
        _ => request_items(parameters, only_table.as_deref()),
    }
}

/// The `requestItems` of a transaction, a batch or a PartiQL batch or transaction.
fn request_items(parameters: &Value, only_table: Option<&str>) -> Vec<Write> {
    let Some(items) = member(parameters, "requestItems").or(member(parameters, "transactItems"))
    else {
        return Vec::new();
    };
    match items {
        // Transactions and PartiQL: one entry per item, with its operation or statement.
        Value::Array(entries) => entries
            .iter()
            .filter_map(|entry| {
                if member(entry, "statement").is_some() {
                    return statement_write(entry, only_table);
                }
                let kind = match text(entry, "operation")?.to_ascii_lowercase().as_str() {
                    "put" => WriteKind::Put,
                    "update" => WriteKind::Update,
                    "delete" => WriteKind::Delete,
                    // A ConditionCheck writes nothing.
                    _ => return None,
                };
                Some(item_write(entry, kind, only_table.map(str::to_owned)))
            })
            .collect(),
        // BatchWriteItem as the API spells it: table name to put and delete requests.
        Value::Object(tables) => tables
            .iter()
            .flat_map(|(table, requests)| {
                requests
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(move |request| {
                        let (kind, body) = if let Some(put) = member(request, "putRequest") {
                            (WriteKind::Put, put)
                        } else {
                            (WriteKind::Delete, member(request, "deleteRequest")?)
                        };
                        Some(item_write(body, kind, Some(table.clone())))
                    })
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One classic-API item write: `tableName`, `key`, and `item`/`items` or `updateExpression`.
fn item_write(entry: &Value, kind: WriteKind, default_table: Option<String>) -> Write {
    let item = member(entry, "item").or(member(entry, "items"));
    let key = match member(entry, "key") {
        Some(Value::Object(key)) => KeyView::Plain(key.clone()),
        // A batch put may carry the item itself (values by name) rather than its key.
        _ => match item {
            Some(Value::Object(values)) => KeyView::Plain(values.clone()),
            _ => KeyView::Omitted,
        },
    };
    let names = match (kind, item, member(entry, "updateExpression")) {
        (WriteKind::Put, Some(Value::Array(names)), _) => Names::Item(
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        (WriteKind::Put, Some(Value::Object(values)), _) => {
            Names::Item(values.keys().cloned().collect())
        }
        (WriteKind::Update, _, Some(Value::String(expression))) => Names::Expression(
            expression_names(expression, member(entry, "expressionAttributeNames")),
        ),
        _ => Names::Unknown,
    };
    Write {
        table: text(entry, "tableName").or(default_table),
        kind,
        key,
        names,
    }
}

/// The top-level attribute names an update expression mentions, `#placeholders` resolved.
/// Names in value positions (`SET a = b + :x`) are included: the set is a superset of what
/// the expression changes, which is all the consistency check needs.
pub fn expression_names(expression: &str, placeholders: Option<&Value>) -> BTreeSet<String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut previous = ' ';
    while i < chars.len() {
        let c = chars[i];
        let starts_name = c == '#' || c.is_alphabetic() || c == '_';
        if c == ':' {
            // A value placeholder: skip it whole.
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            previous = 'v';
            continue;
        }
        if !starts_name {
            if !c.is_whitespace() {
                previous = c;
            }
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let mut next = i;
        while next < chars.len() && chars[next].is_whitespace() {
            next += 1;
        }
        let is_function = chars.get(next) == Some(&'(');
        let nested = previous == '.';
        previous = 'n';
        let keyword = ["SET", "REMOVE", "ADD", "DELETE"]
            .iter()
            .any(|k| token.eq_ignore_ascii_case(k));
        if is_function || nested || keyword {
            continue;
        }
        let name = match token.strip_prefix('#') {
            Some(_) => placeholders
                .and_then(|p| member(p, &token))
                .and_then(Value::as_str)
                .map_or(token.clone(), str::to_owned),
            None => token,
        };
        names.insert(name);
    }
    names
}

/// One token of a PartiQL statement.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `"Name"`: a quoted identifier.
    Ident(String),
    /// `'text'`: a string literal.
    Text(String),
    Number(String),
    /// `***(Redacted)`: a value CloudTrail hid.
    Redacted,
    Punct(char),
}

fn tokens(statement: &str) -> Vec<Token> {
    let chars: Vec<char> = statement.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if statement[char_offset(&chars, i)..].starts_with("***(Redacted)") {
            out.push(Token::Redacted);
            i += "***(Redacted)".len();
        } else if c == '\'' || c == '"' {
            let mut value = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    // A doubled quote is the quote itself.
                    if chars.get(i + 1) == Some(&c) {
                        value.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                value.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(if c == '\'' {
                Token::Text(value)
            } else {
                Token::Ident(value)
            });
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | '+' | '-'))
            {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The byte offset of the `index`-th char (statements are short; linear is fine).
fn char_offset(chars: &[char], index: usize) -> usize {
    chars[..index].iter().map(|c| c.len_utf8()).sum()
}

/// A PartiQL write: its kind from the verb, its table, and the key values it shows.
fn statement_write(entry: &Value, only_table: Option<&str>) -> Option<Write> {
    let statement = text(entry, "statement")?;
    let tokens = tokens(&statement);
    let verb = match tokens.first() {
        Some(Token::Word(w)) => w.to_ascii_uppercase(),
        _ => return None,
    };
    let (kind, table_after) = match verb.as_str() {
        "INSERT" => (WriteKind::Put, "INTO"),
        "UPDATE" => (WriteKind::Update, "UPDATE"),
        "DELETE" => (WriteKind::Delete, "FROM"),
        // SELECT and anything else change nothing.
        _ => return None,
    };
    let table = tokens
        .iter()
        .position(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(table_after)))
        .and_then(|at| match tokens.get(at + 1) {
            Some(Token::Word(name) | Token::Ident(name)) => Some(name.clone()),
            _ => None,
        })
        .or(only_table.map(str::to_owned));
    // `name = value` in WHERE, `'name' : value` in INSERT's VALUE: every shown pair.
    let mut shown = Map::new();
    let where_at = tokens
        .iter()
        .position(|t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("WHERE")));
    let (from, separator) = match (kind, where_at) {
        (WriteKind::Put, _) => (0, ':'),
        (_, Some(at)) => (at, '='),
        _ => (tokens.len(), '='),
    };
    for window in tokens[from.min(tokens.len())..].windows(3) {
        let name = match (&window[0], &window[1]) {
            (Token::Word(n) | Token::Ident(n) | Token::Text(n), Token::Punct(p))
                if *p == separator =>
            {
                n.clone()
            }
            _ => continue,
        };
        match &window[2] {
            Token::Text(s) => {
                shown.insert(name, Value::String(s.clone()));
            }
            Token::Number(n) => {
                shown.insert(name, Value::String(n.clone()));
            }
            _ => {}
        }
    }
    // No value shown (all `***(Redacted)`, or no WHERE): the key is hidden.
    let key = if shown.is_empty() {
        KeyView::Redacted
    } else {
        KeyView::Plain(shown)
    };
    Some(Write {
        table,
        kind,
        key,
        names: Names::Unknown,
    })
}

/// The key prefix of the log files a trail delivered in one UTC hour for one account and
/// region (`prefix` is the trail's S3 key prefix, with its trailing `/`).
pub fn hour_prefix(prefix: &str, account: &str, region: &str, hour: Timestamp) -> String {
    let (date, hh) = hour.date_hour();
    let (y, rest) = date.split_at(4);
    let (m, d) = (&rest[1..3], &rest[4..6]);
    format!(
        "{prefix}AWSLogs/{account}/CloudTrail/{region}/{y}/{m}/{d}/{account}_CloudTrail_{region}_{y}{m}{d}T{hh}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(name: &str, parameters: Value) -> Value {
        json!({"eventVersion": "1.08", "eventSource": "dynamodb.amazonaws.com", "eventName": name,
               "eventTime": "2026-11-27T10:00:01Z", "eventID": "ev-1", "requestID": "REQ1",
               "sourceIPAddress": "10.0.3.7", "userAgent": "aws-sdk-java/2.25",
               "userIdentity": {"type": "AssumedRole", "principalId": "AROA:i-0abc",
                   "arn": "arn:aws:sts::123456789012:assumed-role/OrderService/i-0abc", "accountId": "123456789012",
                   "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/OrderService"}}},
               "requestParameters": parameters, "eventCategory": "Data", "readOnly": false,
               "resources": [{"type": "AWS::DynamoDB::Table", "ARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders"}]})
    }

    // AWS's own TransactWriteItems example: member names in mixed case, a ConditionCheck
    // that writes nothing.
    #[test]
    fn transaction_members_are_read_whatever_their_case() {
        let event = TrailEvent::from_record(&record("TransactWriteItems", json!({"requestItems": [
            {"operation": "Put", "tableName": "Music", "key": {"Artist": "A", "SongTitle": "1"}, "items": ["Artist", "SongTitle", "AlbumTitle"]},
            {"operation": "Update", "tableName": "Music", "key": {"Artist": "A", "SongTitle": "2"}, "updateExpression": "SET #AT = :newval",
             "ExpressionAttributeNames": {"#AT": "AlbumTitle"}},
            {"operation": "Delete", "TableName": "Music", "key": {"Artist": "A", "SongTitle": "3"}},
            {"operation": "ConditionCheck", "TableName": "Music", "Key": {"Artist": "A", "SongTitle": "4"}}]})))
        .unwrap();
        let kinds: Vec<WriteKind> = event.writes.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [WriteKind::Put, WriteKind::Update, WriteKind::Delete]
        );
        assert!(
            event
                .writes
                .iter()
                .all(|w| w.table.as_deref() == Some("Music"))
        );
        assert_eq!(
            event.writes[1].names,
            Names::Expression(["AlbumTitle".to_owned()].into())
        );
        assert_eq!(
            event.caller.session_issuer.as_deref(),
            Some("arn:aws:iam::123456789012:role/OrderService")
        );
    }

    // The names an update expression touches: placeholders resolved, nested paths and
    // functions reduced to the top-level attribute, value placeholders ignored.
    #[test]
    fn update_expression_names_are_top_level() {
        let names = expression_names(
            "SET #s = :s, address.city = :c, lines = list_append(lines, :l) REMOVE note ADD tags :t DELETE #x[0].y :v",
            Some(&json!({"#s": "status", "#x": "scores"})),
        );
        let expected: BTreeSet<String> = ["address", "lines", "note", "scores", "status", "tags"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, expected);
    }

    // PartiQL: the verb gives the kind, shown key values are kept, redacted ones hide the key.
    #[test]
    fn partiql_statements_show_or_hide_keys() {
        let update = TrailEvent::from_record(&record("ExecuteStatement", json!({
            "statement": "UPDATE \"Orders\" SET status = ***(Redacted) WHERE pk = 'ORDER#1' AND sk = 7"}))).unwrap();
        assert_eq!(update.writes[0].kind, WriteKind::Update);
        assert_eq!(update.writes[0].table.as_deref(), Some("Orders"));
        assert_eq!(
            update.writes[0].key,
            KeyView::Plain(
                json!({"pk": "ORDER#1", "sk": "7"})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        let insert = TrailEvent::from_record(&record(
            "BatchExecuteStatement",
            json!({"requestItems": [
            {"statement": "INSERT INTO Orders VALUE {'pk' : ***(Redacted), 'sk' : ***(Redacted)}"},
            {"statement": "SELECT * FROM Orders WHERE pk = 'x'"}]}),
        ))
        .unwrap();
        assert_eq!(insert.writes.len(), 1);
        assert_eq!(insert.writes[0].key, KeyView::Redacted);
        assert_eq!(insert.writes[0].kind, WriteKind::Put);
    }

    // Dropped requestParameters leave one write of unknown key per table; reads, other
    // services and failed calls are told apart.
    #[test]
    fn omitted_parameters_and_other_events() {
        let mut big = record("PutItem", Value::Null);
        big["requestParameters"] = Value::Null;
        let event = TrailEvent::from_record(&big).unwrap();
        assert_eq!(event.writes[0].key, KeyView::Omitted);
        assert_eq!(event.writes[0].table.as_deref(), Some("Orders"));
        assert!(TrailEvent::from_record(&record("GetItem", json!({}))).is_none());
        let mut s3 = record("PutItem", json!({}));
        s3["eventSource"] = json!("s3.amazonaws.com");
        assert!(TrailEvent::from_record(&s3).is_none());
        let mut failed = record(
            "PutItem",
            json!({"tableName": "Orders", "key": {"pk": "a"}}),
        );
        failed["errorCode"] = json!("ConditionalCheckFailedException");
        assert!(!TrailEvent::from_record(&failed).unwrap().succeeded());
    }

    // BatchWriteItem in the API's own shape: table name to put and delete requests.
    #[test]
    fn batch_write_in_the_api_shape() {
        let event = TrailEvent::from_record(&record("BatchWriteItem", json!({"requestItems": {
            "Orders": [{"PutRequest": {"Item": {"pk": "a", "n": 1}}}, {"DeleteRequest": {"Key": {"pk": "b"}}}]}}))).unwrap();
        assert_eq!(event.writes.len(), 2);
        assert_eq!(
            event.writes[0].names,
            Names::Item(["n".to_owned(), "pk".to_owned()].into())
        );
        assert_eq!(event.writes[1].kind, WriteKind::Delete);
    }

    // A delivered file is gzip JSON; only DynamoDB writes are kept.
    #[test]
    fn a_gzip_log_file_reads_back() {
        use std::io::Write as _;
        let log = json!({"Records": [record("PutItem", json!({"tableName": "Orders", "key": {"pk": "a"}, "item": ["pk"]})),
                                     {"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}]});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(log.to_string().as_bytes()).unwrap();
        let events = parse_log(&gz.finish().unwrap()).unwrap();
        assert_eq!(events.len(), 1);
        // A 38-digit number keeps every digit; strings that look like numbers stay as they are.
        let big = br#"{"Records":[],"n":-12345678901234567890123456789012345678.5e3,"s":"123456789012345678","m":12}"#;
        assert_eq!(
            String::from_utf8(exact_numbers(big)).unwrap(),
            r#"{"Records":[],"n":"-12345678901234567890123456789012345678.5e3","s":"123456789012345678","m":12}"#
        );
        assert!(matches!(parse_log(b"{}"), Err(LogError::NoRecords)));
    }

    // The hour prefix follows AWS's file naming, so listing it returns that hour's files only.
    #[test]
    fn hour_prefix_follows_the_file_naming() {
        let t = Timestamp::parse_rfc3339("2026-11-27T08:59:59Z").unwrap();
        assert_eq!(
            hour_prefix("", "123456789012", "eu-west-1", t),
            "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/27/123456789012_CloudTrail_eu-west-1_20261127T08"
        );
    }
}
