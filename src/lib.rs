//! ddb-audit: DynamoDB Streams records in, diff-annotated audit documents out.
//!
//! The pure core (no IO, no clock, no async) is [`value`], [`number`], [`record`], [`diff`],
//! [`patch`], [`timestamp`], [`document`] and [`event`]. The rest talks to the world.

pub mod diff;
pub mod document;
pub mod event;
mod json;
pub mod number;
pub mod patch;
mod reader;
pub mod record;
pub mod timestamp;
pub mod transform;
pub mod value;

pub use diff::{Change, Op, diff};
pub use document::{RenderOptions, Rendered, render_record};
pub use event::{EventError, parse_event, read_event};
pub use record::{EventName, StreamRecord, UserIdentity};
pub use timestamp::Timestamp;
pub use value::{AttributeValue, Binary, Item};

/// The value of every document's `schema` field.
pub const SCHEMA_ID: &str = "ddb-audit/1";
