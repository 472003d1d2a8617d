//! `ddb-audit transform` as a person or a script uses it: the golden documents for every
//! sample event, exit codes, standard input. Every document is validated against the schema.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn transform(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ddb-audit"))
        .arg("transform")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ddb-audit runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default())
        .expect("stdin written");
    drop(input);
    child.wait_with_output().expect("ddb-audit finishes")
}

fn sample_events() -> Vec<PathBuf> {
    let mut events: Vec<PathBuf> = std::fs::read_dir(root().join("events"))
        .expect("events/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    events.sort();
    assert!(events.len() >= 7, "events/ lost sample events: {events:?}");
    events
}

fn golden_path(event: &Path) -> PathBuf {
    let name = event.file_stem().expect("file name").to_string_lossy();
    root().join("tests/golden").join(format!("{name}.jsonl"))
}

// Every sample event gives exactly its golden documents, one per record, all schema-valid.
// UPDATE_GOLDEN=1 rewrites the golden files (review the diff before committing it).
#[test]
fn every_sample_event_matches_its_golden_documents() {
    for event in sample_events() {
        let out = transform(&[event.to_str().expect("utf-8 path")], None);
        assert!(
            out.status.success(),
            "{}: {}",
            event.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let docs = common::assert_lines_schema_valid(&out.stdout);
        let records: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&event).expect("event readable"))
                .expect("event is JSON");
        assert_eq!(
            docs.len(),
            records["Records"].as_array().expect("Records").len(),
            "{}",
            event.display()
        );
        let golden = golden_path(&event);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &out.stdout).expect("golden written");
        }
        let expected = std::fs::read(&golden)
            .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", golden.display()));
        assert!(
            expected == out.stdout,
            "{} differs from {}",
            event.display(),
            golden.display()
        );
    }
}

fn fixture_events() -> Vec<PathBuf> {
    let mut events: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures"))
        .expect("tests/fixtures/ exists")
        .flat_map(|project| std::fs::read_dir(project.expect("dir entry").path()))
        .flatten()
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    events.sort();
    assert!(events.len() >= 5, "tests/fixtures/ lost events: {events:?}");
    events
}

/// The diff/patch invariant on one document: `changes` applied to `old_image` (nothing for
/// an INSERT) give `new_image` (nothing for a REMOVE).
fn assert_changes_apply(doc: &serde_json::Value) {
    use ddb_audit::value::item_eq;
    use ddb_audit::{Change, Item, patch};
    if doc.get("error").is_some() || doc["complete"] == false {
        return;
    }
    let image = |name: &str, skip: &str| -> Item<'static> {
        if doc["event_name"] == skip || doc[name].is_null() {
            return Item::default();
        }
        serde_json::from_str::<Item<'_>>(&doc[name].to_string())
            .expect("typed image")
            .into_owned()
    };
    let (mut state, new) = (image("old_image", "INSERT"), image("new_image", "REMOVE"));
    let text = doc["changes"].to_string();
    let changes: Vec<Change<'_>> = serde_json::from_str(&text).expect("changes read back");
    patch::apply(&mut state, &changes).unwrap_or_else(|e| panic!("{e}: {doc}"));
    assert!(item_eq(&state, &new), "{doc}");
}

// Other people's events (tests/fixtures/, see its README): every one transforms, one
// schema-valid document per record, each complete document's changes applying to its old
// image to give its new one. The .NET events start with a byte order mark in their
// repository; with one added here, the output is the same.
#[test]
fn every_public_sample_event_transforms_to_valid_documents() {
    for event in fixture_events() {
        let bytes = std::fs::read(&event).expect("event readable");
        let out = transform(&["-"], Some(&bytes));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", event.display());
        let docs = common::assert_lines_schema_valid(&out.stdout);
        let records: serde_json::Value = serde_json::from_slice(&bytes).expect("event is JSON");
        let records = records["Records"].as_array().expect("Records");
        assert_eq!(docs.len(), records.len(), "{}", event.display());
        for doc in &docs {
            assert_changes_apply(doc);
        }
        let mut with_bom = "\u{feff}".as_bytes().to_vec();
        with_bom.extend_from_slice(&bytes);
        assert_eq!(
            transform(&["-"], Some(&with_bom)).stdout,
            out.stdout,
            "{} with a byte order mark",
            event.display()
        );
    }
}

// What the public events hold, spot-checked: the readable ones read (a repeated BS member
// kept verbatim in the image), and the shapes the contract does not accept become error
// documents carrying the record (the Go runtime's null-laden values, placeholder ARNs).
#[test]
fn public_sample_events_read_as_expected() {
    let docs = |path: &str| {
        let out = transform(&[path], None);
        assert!(out.status.success());
        common::assert_lines_schema_valid(&out.stdout)
    };
    let rust = docs("tests/fixtures/aws-lambda-rust-runtime/example-dynamodb-event.json");
    assert!(rust.iter().all(|d| d.get("error").is_none()));
    assert_eq!(rust[0]["user_identity"]["type"], "Service");
    assert_eq!(
        rust[1]["new_image"]["asdf2"]["BS"].as_array().map(Vec::len),
        Some(3)
    );
    let dotnet = docs("tests/fixtures/aws-lambda-dotnet/dynamodb-event.json");
    assert!(dotnet.iter().all(|d| d.get("error").is_none()));
    assert_eq!(dotnet[1]["event_name"], "REMOVE");
    let go = docs("tests/fixtures/aws-lambda-go/dynamodb-event.json");
    assert!(
        go.iter()
            .all(|d| d.get("error").is_some() && d["raw"].is_object())
    );
    let sam = docs("tests/fixtures/aws-sam-cli/DynamoDBUpdate.json");
    assert_eq!(sam.len(), 3);
    assert_eq!(
        sam[1]["changes"][0]["path"], "/Message",
        "the MODIFY changes its message"
    );
    let powertools = docs("tests/fixtures/powertools-lambda-python/dynamoStreamEvent.json");
    assert!(powertools.iter().all(|d| d.get("error").is_some()));
}

// The same event always gives byte-identical output.
#[test]
fn output_is_byte_identical_across_runs() {
    let first = transform(&["events/mixed-batch.json"], None);
    let second = transform(&["events/mixed-batch.json"], None);
    assert_eq!(first.stdout, second.stdout);
}

// `-` and no argument read standard input.
#[test]
fn reads_standard_input() {
    let event = std::fs::read(root().join("events/modify.json")).expect("event");
    let from_file = transform(&["events/modify.json"], None);
    assert_eq!(transform(&["-"], Some(&event)).stdout, from_file.stdout);
    assert_eq!(transform(&[], Some(&event)).stdout, from_file.stdout);
}

// Input that is not an event exits 2 with one line on stderr and writes nothing.
#[test]
fn non_events_exit_2_with_one_line_and_no_output() {
    let truncated = &std::fs::read(root().join("events/mixed-batch.json")).expect("event")[..3000];
    for (args, stdin, why) in [
        (vec!["-"], &b"not json"[..], "not valid JSON"),
        (vec!["-"], &b"{\"Records\": 5}"[..], "Records"),
        (vec!["-"], &b"[]"[..], "expected an object"),
        (vec!["-"], truncated, "ends early"),
        (vec!["-"], &b""[..], "empty"),
        (
            vec!["no/such/file.json"],
            &b""[..],
            "cannot read no/such/file.json",
        ),
    ] {
        let out = transform(&args, Some(stdin));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{why}: wrote {} bytes",
            out.stdout.len()
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(why), "expected {why:?} in {stderr}");
    }
}

// A failed write (a full disk) is an error, exit 1, not input that is not an event (exit 2).
#[test]
fn a_failed_write_exits_1() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("no /dev/full here: skipped");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_ddb-audit"))
        .args(["transform", "events/modify.json"])
        .current_dir(root())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("ddb-audit runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write the output"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

// An unreadable record is an error document in its place; the rest are unaffected.
#[test]
fn unreadable_record_keeps_its_place() {
    let out = transform(&["events/mixed-batch.json"], None);
    assert!(out.status.success());
    let docs = common::assert_lines_schema_valid(&out.stdout);
    let positions: Vec<bool> = docs.iter().map(|d| d.get("error").is_some()).collect();
    assert_eq!(positions.iter().filter(|&&e| e).count(), 1);
    let bad = docs
        .iter()
        .find(|d| d.get("error").is_some())
        .expect("one error document");
    assert!(
        bad["raw"]["dynamodb"]["NewImage"]["qty"].get("X").is_some(),
        "raw kept verbatim: {bad}"
    );
}

// --help explains the command.
#[test]
fn help_explains_transform() {
    let out = Command::new(env!("CARGO_BIN_EXE_ddb-audit"))
        .args(["transform", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        help.contains("JSON Lines") && help.contains("exits 2"),
        "{help}"
    );
}
