//! One item's audit trail in record mode: its objects in stream order, read back from S3.
//!
//! The function writes every document of an item under one prefix, named so that listing
//! returns them in stream order. Stream sequence numbers are increasing but not dense, so a
//! missing number proves nothing: what reveals tampering is the bucket's version history (an
//! object with a second version was overwritten; a delete marker hides a deleted one). The
//! types and their assembly are pure; only [`read`] reads the bucket (through the
//! [`Bucket`] port).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::concurrent;
use crate::document::Stored;
use crate::store::bucket::{Bucket, BucketError, VersionRow};

/// One object of the trail, in key order (which is stream order).
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    /// The document stored in the object's current version, when there is one that reads.
    pub stored: Option<Stored>,
    /// That document's text exactly as stored (for `history --json`).
    pub text: Option<String>,
    /// What makes this object untrustworthy or unusable, if anything.
    pub problems: Vec<Problem>,
}

/// Why an object of the trail cannot be trusted as written by the function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The object has more than one version: something wrote it again after the function.
    Overwritten { versions: usize },
    /// The current version is a delete marker: the object was deleted.
    Deleted,
    /// The content is not a JSON document.
    NotADocument { reason: String },
    /// The document is an error document: the function could not read the stream record.
    Unreadable { message: String },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Overwritten { versions } => {
                write!(f, "overwritten after it was written ({versions} versions)")
            }
            Problem::Deleted => write!(f, "deleted (its latest version is a delete marker)"),
            Problem::NotADocument { reason } => write!(f, "not an audit document: {reason}"),
            Problem::Unreadable { message } => {
                write!(f, "the stream record could not be read: {message}")
            }
        }
    }
}

/// The versions of one key, newest first as S3 lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHistory {
    pub key: String,
    /// Number of object versions (delete markers excluded).
    pub versions: usize,
    /// The latest version is a delete marker.
    pub deleted: bool,
}

/// Groups a version listing by key, in ascending key order.
pub fn group_versions(rows: &[VersionRow]) -> Vec<KeyHistory> {
    let mut out: Vec<KeyHistory> = Vec::new();
    let mut sorted: Vec<&VersionRow> = rows.iter().collect();
    // Stable: S3 lists a key's versions newest first; keep that order within a key.
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for row in sorted {
        if out.last().is_none_or(|h| h.key != row.key) {
            out.push(KeyHistory {
                key: row.key.clone(),
                versions: 0,
                deleted: false,
            });
        }
        let history = out.last_mut().expect("pushed above");
        if row.delete_marker {
            history.deleted |= row.is_latest;
        } else {
            history.versions += 1;
        }
    }
    out
}

/// The problems the version history alone reveals.
pub fn history_problems(history: &KeyHistory) -> Vec<Problem> {
    let mut problems = Vec::new();
    if history.deleted {
        problems.push(Problem::Deleted);
    }
    if history.versions > 1 {
        problems.push(Problem::Overwritten {
            versions: history.versions,
        });
    }
    problems
}

/// Builds an entry from a key's history and (when not deleted) its current content.
pub fn entry(history: &KeyHistory, body: Option<&[u8]>) -> Entry {
    let mut problems = history_problems(history);
    let mut text = None;
    let stored = match body.map(Stored::from_slice) {
        Some(Ok(stored)) => {
            text = body.map(|b| String::from_utf8_lossy(b).trim_end().to_owned());
            if let Stored::Unreadable(doc) = &stored {
                problems.push(Problem::Unreadable {
                    message: doc.error.message.clone(),
                });
            }
            Some(stored)
        }
        Some(Err(error)) => {
            problems.push(Problem::NotADocument {
                reason: error.to_string(),
            });
            None
        }
        None => None,
    };
    Entry {
        key: history.key.clone(),
        stored,
        text,
        problems,
    }
}

/// Objects fetched at once while reading a trail.
const IN_FLIGHT: usize = 8;

/// The current content of each key of `histories`, in their order (`None` where the latest
/// version is a delete marker), fetched with at most `limit` reads in flight; `bytes` counts
/// what was read and `on_done` is told how many reads have finished (for progress lines).
pub(crate) async fn current_bodies<B: Bucket>(
    bucket: &B,
    histories: &[KeyHistory],
    limit: usize,
    bytes: &Arc<AtomicU64>,
    on_done: impl FnMut(usize),
) -> Result<Vec<Option<Vec<u8>>>, BucketError> {
    // Deleted objects have no current content to fetch.
    let present = |h: &&KeyHistory| !h.deleted && h.versions > 0;
    let fetched = concurrent::bounded(
        histories.iter().filter(present).map(|h| h.key.clone()),
        limit,
        |key| {
            let (bucket, bytes) = (bucket.clone(), Arc::clone(bytes));
            async move {
                let body = bucket.get(&key).await?.body;
                bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                Ok::<_, BucketError>(body)
            }
        },
        on_done,
    )
    .await;
    let mut fetched = fetched.into_iter();
    let mut bodies = Vec::with_capacity(histories.len());
    for history in histories {
        if !present(&history) {
            bodies.push(None);
            continue;
        }
        let body = fetched.next().expect("one result per fetch");
        let body = body.map_err(|source| BucketError::Interrupted {
            action: format!("reading {}", history.key),
            source,
        })??;
        bodies.push(Some(body));
    }
    Ok(bodies)
}

/// Reads every object under `item_prefix`, in stream order, with the problems found.
/// Returns `None` when nothing (no object, no delete marker) was ever written there.
pub async fn read<B: Bucket>(
    bucket: &B,
    item_prefix: &str,
) -> Result<Option<Vec<Entry>>, BucketError> {
    let rows = bucket.list_versions(item_prefix).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let histories = group_versions(&rows);
    let bodies = current_bodies(bucket, &histories, IN_FLIGHT, &Arc::default(), |_| {}).await?;
    let entries = histories
        .iter()
        .zip(&bodies)
        .map(|(history, body)| entry(history, body.as_deref()))
        .collect();
    Ok(Some(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, latest: bool, marker: bool) -> VersionRow {
        VersionRow {
            key: key.into(),
            version_id: None,
            is_latest: latest,
            delete_marker: marker,
        }
    }

    // A key written once has one version and no problem; ordering follows the key.
    #[test]
    fn untouched_objects_have_no_problems() {
        let groups = group_versions(&[row("b", true, false), row("a", true, false)]);
        assert_eq!(
            groups.iter().map(|g| g.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(groups.iter().all(|g| history_problems(g).is_empty()));
    }

    // A second version means the object was overwritten behind the function's back.
    #[test]
    fn second_version_is_an_overwrite() {
        let groups = group_versions(&[row("a", true, false), row("a", false, false)]);
        assert_eq!(
            history_problems(&groups[0]),
            [Problem::Overwritten { versions: 2 }]
        );
    }

    // A delete marker on top hides a deleted object; an older marker does not.
    #[test]
    fn latest_delete_marker_is_a_deletion() {
        let deleted = group_versions(&[row("a", true, true), row("a", false, false)]);
        assert_eq!(history_problems(&deleted[0]), [Problem::Deleted]);
        let restored = group_versions(&[row("a", true, false), row("a", false, true)]);
        assert!(!restored[0].deleted);
    }

    // Error documents and garbage are reported, not silently skipped.
    #[test]
    fn unreadable_and_garbage_objects_are_problems() {
        let h = KeyHistory {
            key: "k".into(),
            versions: 1,
            deleted: false,
        };
        let err = br#"{"schema":"ddb-audit/1","event_id":null,"error":{"message":"bad"},"raw":{}}"#;
        assert_eq!(
            entry(&h, Some(err)).problems,
            [Problem::Unreadable {
                message: "bad".into()
            }]
        );
        let garbage = entry(&h, Some(b"nope"));
        assert!(garbage.stored.is_none());
        assert!(matches!(
            garbage.problems[..],
            [Problem::NotADocument { .. }]
        ));
        let other = entry(&h, Some(br#"{"schema":"other"}"#));
        assert!(matches!(other.problems[..], [Problem::NotADocument { .. }]));
    }
}
