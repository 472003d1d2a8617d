//! What `ddb-audit verify` found, and how it is printed. This module performs no IO.

use crate::auditor::verify::Finding;

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects: usize,
    pub documents: usize,
    pub unreadable: usize,
    /// `(key, finding)` for every finding, in key order.
    pub findings: Vec<(String, Finding)>,
}

impl Report {
    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|(_, f)| f.is_problem()).count()
    }

    /// The summary and each finding, as printed.
    pub fn render(&self, bucket: &str, prefix: &str) -> String {
        let mut out = String::new();
        for (key, finding) in &self.findings {
            let tag = if finding.is_problem() {
                "PROBLEM"
            } else {
                "note"
            };
            out.push_str(&format!("{tag}  {key}: {finding}\n"));
        }
        let bad_objects = {
            let mut keys: Vec<&str> = self
                .findings
                .iter()
                .filter(|(_, f)| f.is_problem())
                .map(|(k, _)| k.as_str())
                .collect();
            keys.dedup();
            keys.len()
        };
        out.push_str(&format!(
            "verified s3://{bucket}/{prefix}: {} objects, {} documents ({} unreadable records kept as error documents)\n",
            self.objects, self.documents, self.unreadable
        ));
        if bad_objects == 0 {
            out.push_str("OK: every object is a schema-valid document under its own key, matches its stored SHA-256, is locked, and was never overwritten or deleted\n");
        } else {
            out.push_str(&format!(
                "FAILED: {} problems in {bad_objects} objects\n",
                self.problems()
            ));
        }
        out
    }
}
