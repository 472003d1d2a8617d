//! ddb-audit: DynamoDB Streams records in, diff-annotated audit documents out.
//!
//! The pure core (no IO, no clock, no async) is [`value`], [`number`], [`record`], [`diff`],
//! [`patch`], [`timestamp`], [`document`] and [`event`]; [`transform`] runs it over one event
//! and [`key`] lays the documents out in the bucket. The auditor's pure parts are [`keyarg`],
//! [`timeline`], [`replay`] and [`plain`]; [`bucket`] (S3, read side), [`trail`], [`verify`]
//! and [`command`] talk to the world for the CLI; [`config`], [`sink`], [`handler`] and
//! [`metrics`] for the function.

pub mod bucket;
pub mod command;
pub mod config;
pub mod diff;
pub mod document;
pub mod event;
pub mod handler;
pub mod key;
pub mod keyarg;
pub mod metrics;
pub mod number;
pub mod patch;
pub mod plain;
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
pub use event::{EventError, parse_event};
pub use record::{EventName, StreamRecord, UserIdentity};
pub use timestamp::Timestamp;
pub use value::{AttributeValue, Binary, Item};

/// The value of every document's `schema` field.
pub const SCHEMA_ID: &str = "ddb-audit/1";
