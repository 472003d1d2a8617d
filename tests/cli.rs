//! The `ddb-audit` binary's exit statuses and one-line messages, as a person meets them.

use std::process::{Command, Output};

fn ddb_audit(args: &[&str], env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ddb-audit"));
    command.args(args);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("ddb-audit runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A mistyped flag is a usage error (64), never 2, which a scheduled verify reports for
/// tampering; --help is an answer (0).
#[test]
fn usage_errors_have_their_own_status() {
    let typo = ddb_audit(&["verify", "--bucket", "b", "--prefx", "audit/"], &[]);
    assert_eq!(typo.status.code(), Some(64), "{}", stderr(&typo));
    assert!(stderr(&typo).contains("--prefix"), "{}", stderr(&typo));
    let missing = ddb_audit(&["history", "--bucket", "b"], &[]);
    assert_eq!(missing.status.code(), Some(64));
    let help = ddb_audit(&["--help"], &[]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("64 a usage error"), "{text}");
}

/// A time without a zone says what to add, in one line, and exits 1.
#[test]
fn a_time_without_a_zone_says_to_add_one() {
    let out = ddb_audit(
        &[
            "replay",
            "--bucket",
            "b",
            "--table",
            "T",
            "--key",
            "pk=a",
            "--at",
            "2026-11-27T08:31:41",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "ddb-audit: --at: \"2026-11-27T08:31:41\" is not an RFC 3339 time: add `Z` (UTC) or an \
         offset such as +09:00 (e.g. 2026-11-27T14:00:00Z or 2026-11-27T14:00:00.000+09:00)\n"
    );
}

/// Without a region the SDK's "dispatch failure" becomes what to set.
#[test]
fn a_missing_region_says_what_to_set() {
    let home = tempfile::tempdir().expect("a temporary home");
    let out = ddb_audit(
        &["verify", "--bucket", "audit-bucket"],
        &[
            ("AWS_REGION", None),
            ("AWS_DEFAULT_REGION", None),
            ("AWS_PROFILE", None),
            (
                "AWS_CONFIG_FILE",
                Some(&home.path().join("config").to_string_lossy()),
            ),
            ("AWS_ACCESS_KEY_ID", Some("x")),
            ("AWS_SECRET_ACCESS_KEY", Some("y")),
            ("AWS_EC2_METADATA_DISABLED", Some("true")),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "ddb-audit: bucket audit-bucket: no AWS region: set AWS_REGION (or a profile's region)\n"
    );
}
