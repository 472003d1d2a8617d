//! Shared by the integration tests: the project's JSON Schema of the audit document.
#![allow(dead_code)]

use std::sync::OnceLock;

/// The project's own schema file, which must match the contract (audit-document.md).
pub(crate) use ddb_audit::document::SCHEMA;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
        jsonschema::draft202012::new(&schema).expect("schema compiles")
    })
}

/// Panics with every violation if `document` is not a valid audit document.
pub(crate) fn assert_schema_valid(document: &serde_json::Value) {
    let errors: Vec<String> = validator()
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "document violates the schema: {errors:#?}\n{document}"
    );
}

/// Parses JSON Lines and validates every line against the schema.
pub(crate) fn assert_lines_schema_valid(jsonl: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(jsonl)
        .expect("output is UTF-8")
        .lines()
        .map(|line| {
            let doc: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
            assert_schema_valid(&doc);
            doc
        })
        .collect()
}
