//! One DynamoDB Streams record, read leniently from the raw JSON Lambda delivers.
//!
//! This module performs no IO.

use std::borrow::Cow;

use crate::timestamp::Timestamp;
use crate::value::Item;

/// The kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

/// The record's `userIdentity` (present on TTL deletions).
#[derive(Debug, Clone)]
pub struct UserIdentity<'a> {
    pub kind: Cow<'a, str>,
    pub principal_id: Cow<'a, str>,
}

/// A readable stream record.
#[derive(Debug, Clone)]
pub struct StreamRecord<'a> {
    pub event_id: Cow<'a, str>,
    pub event_name: EventName,
    pub event_version: Option<Cow<'a, str>>,
    pub region: Cow<'a, str>,
    pub stream_arn: Cow<'a, str>,
    pub table: String,
    pub account: String,
    pub sequence_number: Cow<'a, str>,
    pub approximate_creation_time: Option<Timestamp>,
    pub size_bytes: Option<u64>,
    pub stream_view_type: Option<Cow<'a, str>>,
    pub keys: Item<'a>,
    pub old_image: Option<Item<'a>>,
    pub new_image: Option<Item<'a>>,
    pub user_identity: Option<UserIdentity<'a>>,
}
