//! The engine alone on one event file: `transform_file EVENT > documents.jsonl`.
//!
//! What `ddb-audit transform` does, without the CLI around it: it builds in seconds (the core's
//! few dependencies), so the engine can be profiled and measured quickly
//! (`cargo build -p ddb-audit-core --profile profiling --example transform_file`, then
//! `valgrind --tool=callgrind` or `../shared/bench/measure.py -- target/profiling/examples/transform_file`).

use std::io::Write;

use ddb_audit_core::document::RenderOptions;
use ddb_audit_core::transform::transform;

fn main() {
    let path = std::env::args_os()
        .nth(1)
        .expect("usage: transform_file EVENT");
    let event = std::fs::read(&path).expect("read the event file");
    let mut out = std::io::stdout().lock();
    if let Err(error) = transform(&event, &RenderOptions::default(), &mut out) {
        eprintln!("transform_file: {error}");
        std::process::exit(1);
    }
    out.flush().expect("flush stdout");
}
