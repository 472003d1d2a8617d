//! The function's binary refuses to start on bad configuration, naming the variable.

use std::process::Command;

/// Runs the binary with only the given AUDIT_* variables set (the rest of the environment
/// is kept, minus any AUDIT_* the caller's shell may have).
fn start_with(vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ddb-audit-lambda"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AUDIT_") {
            command.env_remove(name);
        }
    }
    command.env_remove("RUST_LOG");
    command.envs(vars.iter().copied());
    command.output().expect("run ddb-audit-lambda")
}

// Without AUDIT_BUCKET the cold start stops with a non-zero status and a message naming it.
#[test]
fn missing_bucket_stops_the_cold_start() {
    let output = start_with(&[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AUDIT_BUCKET is required"), "{stderr}");
}

// A bad value is reported with the variable and the accepted values, before any runtime
// or network activity.
#[test]
fn bad_mode_stops_the_cold_start_with_accepted_values() {
    let output = start_with(&[("AUDIT_BUCKET", "audit-bucket"), ("AUDIT_MODE", "hourly")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AUDIT_MODE=\"hourly\" is invalid: expected record or batch"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"variable\":\"AUDIT_MODE\""),
        "the JSON log names it too: {stdout}"
    );
}

// A RUST_LOG that is neither a level nor target=level directives stops the cold start naming
// it (a typo must not silence the logs); a plain level and directives both start.
#[test]
fn bad_log_filter_stops_the_cold_start() {
    let output = start_with(&[("RUST_LOG", "ddb_audit=loud")]);
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("RUST_LOG=\"ddb_audit=loud\" is invalid: expected a level"),
        "{stderr}"
    );
    for good in ["debug", "warn,ddb_audit=debug"] {
        let output = start_with(&[("RUST_LOG", good)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("RUST_LOG"), "{good}: {stderr}");
        assert!(
            stderr.contains("AUDIT_BUCKET is required"),
            "{good}: {stderr}"
        );
    }
}
