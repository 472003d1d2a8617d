//! The engine of ddb-audit: DynamoDB Streams records in, diff-annotated audit documents out.
//!
//! This crate performs no IO (a caller's `Write` aside), reads no clock, starts no runtime
//! and knows nothing of AWS: the function and the auditor's CLI (the `ddb-audit` crate)
//! bring those. It holds:
//! - the values: [`value`] (typed DynamoDB values and rule-1 equality), [`number`] (exact
//!   number text);
//! - the input: [`record`] (one stream record, read leniently), [`event`] (a whole Lambda
//!   event), [`timestamp`];
//! - the contract: [`diff`](mod@diff) and [`patch`] (the change list and its inverse), [`document`]
//!   (rendering a document, and the typed model of a stored one), [`key`] (the bucket
//!   layout: object keys, metadata names, content types);
//! - [`pattern`] and [`redaction`]: attribute paths withheld from the trail, and their
//!   keyed-hash tokens;
//! - [`transform`]: a whole event to JSON Lines;
//! - with the `serde_dynamo` feature, [`convert`]: to and from serde_dynamo's values.
//!
//! The JSON reader and writer behind them are private.
#![forbid(unsafe_code)]

mod align;
#[cfg(feature = "serde_dynamo")]
pub mod convert;
pub mod diff;
pub mod document;
pub mod event;
mod json;
pub mod key;
pub mod number;
pub mod patch;
pub mod pattern;
mod reader;
pub mod record;
pub mod redaction;
pub mod timestamp;
pub mod transform;
pub mod value;

pub use diff::{Change, Op, diff};
pub use document::{RenderOptions, Rendered, render_record};
pub use event::{EventError, parse_event, read_event};
pub use record::{EventName, JsonValue, StreamRecord, UserIdentity};
pub use timestamp::Timestamp;
pub use value::{AttributeValue, Binary, Item, Token};

/// The value of every document's `schema` field.
pub const SCHEMA_ID: &str = "ddb-audit/1";
