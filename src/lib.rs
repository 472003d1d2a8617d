//! ddb-audit: DynamoDB Streams records in, diff-annotated audit documents out.
//!
//! The pure core (no IO, no clock, no async): [`value`] (typed DynamoDB values), [`number`]
//! (exact number text), [`record`] (a stream record), [`diff`] and [`patch`] (the change list
//! and its inverse), [`timestamp`], [`document`] (one audit document), [`event`] (a whole
//! Lambda event), [`key`] (object keys), [`metrics`] (the EMF line) and [`convert`]
//! (serde_dynamo values). At the edge: [`transform`] (JSON Lines to a writer), [`config`]
//! (the environment, read once), [`sink`] (S3, and an in-memory twin) and [`handler`] (one
//! Lambda invocation).
//!
//! The auditor's side (`ddb-audit history / replay / verify`): [`keyarg`] (the `--key`
//! argument), [`timeline`] (the readable history), [`replay`] (an item at a time) and
//! [`plain`] (plain JSON output) are pure; [`bucket`] (S3, read side), [`trail`] (one item's
//! objects), [`verify`] (the integrity checks) and [`command`] (the three commands) do IO.

pub mod bucket;
pub mod command;
pub mod config;
pub mod convert;
pub mod diff;
pub mod document;
pub mod event;
pub mod handler;
mod json;
pub mod key;
pub mod keyarg;
pub mod metrics;
pub mod number;
pub mod patch;
pub mod plain;
mod reader;
pub mod record;
pub mod replay;
pub mod sink;
pub mod timeline;
pub mod timestamp;
pub mod trail;
pub mod transform;
pub mod value;
pub mod verify;

pub use diff::{Change, Op, diff};
pub use document::{RenderOptions, Rendered, render_record};
pub use event::{EventError, parse_event, read_event};
pub use record::{EventName, StreamRecord, UserIdentity};
pub use timestamp::Timestamp;
pub use value::{AttributeValue, Binary, Item};

/// The value of every document's `schema` field.
pub const SCHEMA_ID: &str = "ddb-audit/1";
