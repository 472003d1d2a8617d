//! The function's room: one Lambda invocation, from the event to the partial batch response.
//!
//! [`config`] reads the settings once at cold start; [`handler`] plans the objects of a
//! batch (`plan`), writes them through a [`crate::store::sink::Sink`] (`write`), and
//! answers Lambda; [`metrics`] is the EMF line it prints.

pub mod aws;
pub mod config;
pub mod deadline;
pub mod handler;
pub mod metrics;
mod plan;
#[cfg(test)]
mod testing;
mod write;
