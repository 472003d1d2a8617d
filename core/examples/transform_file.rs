//! The engine alone on one event file: `transform_file [PATTERNS SECRET_FILE] EVENT`, documents
//! on stdout; with PATTERNS (comma-separated, as `AUDIT_REDACT`) and a secret file, redacted.
//!
//! What `ddb-audit transform` does, without the CLI around it: it builds in seconds (the core's
//! few dependencies), so the engine can be profiled and measured quickly
//! (`cargo build -p ddb-audit-core --profile profiling --example transform_file`, then
//! `valgrind --tool=callgrind` or `../shared/bench/measure.py -- target/profiling/examples/transform_file`).

use std::io::Write;
use std::sync::Arc;

use ddb_audit_core::document::RenderOptions;
use ddb_audit_core::pattern::Pattern;
use ddb_audit_core::redaction::Redactor;
use ddb_audit_core::transform::transform;

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let (path, redaction) = match &args[..] {
        [path] => (path, None),
        [patterns, secret, path] => {
            let patterns = Pattern::parse_list(&patterns.to_string_lossy()).expect("patterns");
            let secret = std::fs::read(secret).expect("read the secret file");
            let redactor = Redactor::new(patterns, &secret).expect("a redactor");
            (path, Some(Arc::new(redactor)))
        }
        _ => panic!("usage: transform_file [PATTERNS SECRET_FILE] EVENT"),
    };
    let event = std::fs::read(path).expect("read the event file");
    let options = RenderOptions {
        include_images: true,
        redaction,
    };
    let mut out = std::io::stdout().lock();
    if let Err(error) = transform(&event, &options, &mut out) {
        eprintln!("transform_file: {error}");
        std::process::exit(1);
    }
    out.flush().expect("flush stdout");
}
