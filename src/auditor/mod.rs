//! The auditor's room: `ddb-audit history`, `replay` and `verify`.
//!
//! [`keyarg`] reads `--key`; [`trail`] assembles one item's objects in stream order;
//! [`timeline`] renders it; [`replay`] rebuilds the item at a time; [`plain`] prints an item
//! as plain JSON; [`verify`] checks every object; [`command`] ties each command to the
//! bucket. All but `command`, `trail::read` and `verify::run` are pure.

pub mod attribution;
pub mod caller;
pub mod changes;
pub mod cloudtrail;
pub mod command;
pub mod keyarg;
pub mod plain;
pub mod replay;
pub mod report;
pub mod scan;
pub mod timeline;
pub mod trail;
pub mod verify;
pub mod window;
