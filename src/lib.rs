//! ddb-audit: DynamoDB Streams records in, diff-annotated audit documents out, and the
//! auditor's answers back.
//!
//! One house, three rooms:
//! - **the engine**, the `ddb-audit-core` crate (`core/`), re-exported here whole: values,
//!   records, the diff and its inverse, documents rendered and read back, the bucket layout.
//!   It performs no IO and never will: the compiler enforces it, since it depends on nothing
//!   async or AWS.
//! - **the function** ([`function`]): the Lambda's configuration, the plan of the objects
//!   of one batch, their writing, the partial batch response, the metrics line.
//! - **the auditor** ([`auditor`]): `history`, `replay` and `verify`, with the pure
//!   modules that assemble a trail, render it and replay it.
//!
//! Both rooms reach S3 through [`store`] (one client builder, a write port and a read
//! port, each with an S3 and an in-memory adapter) and run concurrent work through
//! [`concurrent`].

pub use ddb_audit_core::*;

pub mod auditor;
pub mod clock;
pub mod concurrent;
pub mod function;
pub mod recovery;
pub mod store;
