//! What `ddb-audit verify` found, and how it is printed. This module performs no IO.

use std::fmt::Write as _;

use crate::auditor::timeline;
use crate::auditor::verify::Finding;
use crate::key;

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub objects: usize,
    pub documents: usize,
    pub unreadable: usize,
    /// `(key, finding)` for every finding, in key order.
    pub findings: Vec<(String, Finding)>,
}

/// `1 object`, `2 objects`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// The object key, and the item it belongs to when the key names one readably (the
/// percent-encoded key is exact, the decoded item is what a person recognises).
fn object_label(object_key: &str) -> String {
    match key::item_of_object_key(object_key) {
        Some(item) => format!("{object_key} [item {}]", timeline::key_line(&item)),
        None => object_key.to_owned(),
    }
}

impl Report {
    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|(_, f)| f.is_problem()).count()
    }

    /// Objects whose latest version is a delete marker: they hold no document.
    fn deleted(&self) -> usize {
        self.findings
            .iter()
            .filter(|(_, f)| matches!(f, Finding::Deleted))
            .count()
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
            let _ = writeln!(out, "{tag}  {}: {finding}", object_label(key));
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
        let mut notes = vec![format!(
            "{} kept as error documents",
            count(self.unreadable, "unreadable record")
        )];
        let gaps = self
            .findings
            .iter()
            .filter(|(_, f)| matches!(f, Finding::KnownGap { .. }))
            .count();
        if gaps > 0 {
            notes.push(count(gaps, "known gap"));
        }
        if self.deleted() > 0 {
            notes.push(format!(
                "{} with no document left",
                count(self.deleted(), "deleted object")
            ));
        }
        let _ = writeln!(
            out,
            "verified s3://{bucket}/{prefix}: {}, {} ({})",
            count(self.objects, "object"),
            count(self.documents, "document"),
            notes.join("; ")
        );
        if bad_objects == 0 {
            out.push_str("OK: every object is a schema-valid document under its own key, matches its stored SHA-256, is locked, and was never overwritten or deleted\n");
        } else {
            let _ = writeln!(
                out,
                "FAILED: {} in {}",
                count(self.problems(), "problem"),
                count(bad_objects, "object")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finding names the object by its exact key and by the item a person recognises;
    /// counts are in the singular where they are one, and deleted objects are explained.
    #[test]
    fn findings_name_the_item_and_counts_read_right() {
        let key = "audit/table=T/item=pk=%E6%B3%A8%E6%96%87%23%C3%BC,sk=N:0/0001-e.json";
        let report = Report {
            objects: 2,
            documents: 1,
            unreadable: 1,
            findings: vec![(key.to_owned(), Finding::Deleted)],
        };
        let text = report.render("b", "audit/");
        assert_eq!(
            text,
            format!(
                "PROBLEM  {key} [item pk=\"注文#ü\", sk=0]: deleted: the latest version is a delete marker\n\
                 verified s3://b/audit/: 2 objects, 1 document (1 unreadable record kept as error documents; 1 deleted object with no document left)\n\
                 FAILED: 1 problem in 1 object\n"
            )
        );
    }
}
