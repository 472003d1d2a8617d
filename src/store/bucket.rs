//! The audit bucket, read side: the port the auditor's commands read through ([`Bucket`]),
//! its S3 adapter ([`S3Bucket`]) and its in-memory twin ([`MemoryBucket`]).
//!
//! The port lists keys and versions, fetches objects with the checksum stored at write time,
//! and reads Object Lock retention. It never writes or deletes. The S3 adapter reads the
//! retention from the object's headers (moto's GetObjectRetention is broken in server mode,
//! and the headers carry the same facts), and honours the same settings as the function:
//! the SDK's `AWS_ENDPOINT_URL_S3`, `AWS_REGION` and credentials chain, plus
//! `AUDIT_S3_FORCE_PATH_STYLE`. The memory adapter is a real bucket with versions and delete
//! markers, for the commands' tests.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::types::ChecksumMode;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Why the bucket could not be read. The message is one line, fit for a terminal.
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error(transparent)]
    BadSetting(#[from] super::InvalidSetting),
    #[error("{action}: {message}")]
    Request {
        action: String,
        message: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read task ended without a result (see [`crate::concurrent`]).
    #[error("{action}: {source}")]
    Interrupted {
        action: String,
        #[source]
        source: crate::concurrent::Panicked,
    },
}

/// One row of a version listing: an object version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub delete_marker: bool,
}

/// An object's current version, as stored.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The stored bytes (still gzip-compressed in batch mode).
    pub body: Vec<u8>,
    /// The base64 SHA-256 S3 stored at write time, if any.
    pub checksum_sha256: Option<String>,
    pub content_encoding: Option<String>,
    pub version_id: Option<String>,
    /// Object Lock retention, from the GET's headers (S3 sends them as it does on HEAD).
    pub retention: Retention,
    /// User metadata (names lower case, without `x-amz-meta-`).
    pub metadata: BTreeMap<String, String>,
}

/// The Object Lock retention on an object, from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `GOVERNANCE` or `COMPLIANCE`, when set.
    pub mode: Option<String>,
    /// RFC 3339, when set.
    pub retain_until: Option<String>,
}

/// Reads the audit bucket. Clones are cheap and share the connection, so concurrent reads
/// each take one.
pub trait Bucket: Clone + Send + Sync + 'static {
    /// The bucket's name, for messages.
    fn name(&self) -> &str;

    /// Checks that the bucket exists and is reachable, for a clear first error.
    fn check(&self) -> impl Future<Output = Result<(), BucketError>> + Send;

    /// Every key under `prefix` (current versions), ascending.
    fn list_keys(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, BucketError>> + Send;

    /// The common prefixes one level below `prefix` (e.g. `table=T/` under `audit/`).
    fn list_prefixes(
        &self,
        prefix: &str,
        delimiter: &str,
    ) -> impl Future<Output = Result<Vec<String>, BucketError>> + Send;

    /// Every version and delete marker under `prefix`: keys ascending, each key's versions
    /// newest first.
    fn list_versions(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<VersionRow>, BucketError>> + Send;

    /// The current version of `key`, with the SHA-256 stored for it.
    fn get(&self, key: &str) -> impl Future<Output = Result<Fetched, BucketError>> + Send;

    /// The Object Lock retention of the current version of `key`.
    fn retention(&self, key: &str) -> impl Future<Output = Result<Retention, BucketError>> + Send;
}

/// An S3 bucket and the client that reads it.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    client: Client,
    name: String,
}

/// `outer: inner: innermost`, each error's Display once (the SDK's DisplayErrorContext adds Debug dumps).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Turns an SDK error into one readable line, keeping the error itself as the source.
fn request_error<E, R>(action: String, err: SdkError<E, R>) -> BucketError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some("NoSuchBucket"), _) => "no such bucket".to_owned(),
                (Some("AccessDenied"), m) => format!(
                    "access denied{}",
                    m.map(|m| format!(" ({m})")).unwrap_or_default()
                ),
                (Some(code), Some(m)) => format!("{code}: {m}"),
                (Some(code), None) => code.to_owned(),
                _ => error_chain(&err),
            }
        }
        _ => {
            let chain = error_chain(&err);
            if chain.contains("region must be set") {
                "no AWS region: set AWS_REGION (or a profile's region)".to_owned()
            } else if chain.contains("credentials") {
                "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)".to_owned()
            } else if chain.contains("Connection refused") || chain.contains("dns error") {
                format!(
                    "cannot reach S3 ({})",
                    chain.lines().next().unwrap_or_default()
                )
            } else {
                chain
            }
        }
    };
    BucketError::Request {
        action,
        message: message.replace('\n', " "),
        source: Box::new(err),
    }
}

impl S3Bucket {
    /// Builds the client from the environment (as the function does) for bucket `name`.
    pub async fn from_env(name: &str) -> Result<Self, BucketError> {
        let path_style = super::force_path_style(|k| std::env::var(k).ok())?;
        Ok(Self {
            client: super::client(path_style).await,
            name: name.to_owned(),
        })
    }

    /// Every page of a ListObjectsV2 under `prefix` (grouped by `delimiter` when given),
    /// each reduced to what `take` keeps from it.
    async fn list_pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        take: impl Fn(&ListObjectsV2Output) -> Vec<String>,
    ) -> Result<Vec<String>, BucketError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_owned))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| request_error(format!("listing s3://{}/{prefix}", self.name), e))?;
            out.extend(take(&page));
        }
        Ok(out)
    }
}

impl Bucket for S3Bucket {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Result<(), BucketError> {
        self.client
            .head_bucket()
            .bucket(&self.name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                // HeadBucket has no body, so a missing bucket is a bare 404.
                if matches!(&e, SdkError::ServiceError(s) if s.raw().status().as_u16() == 404) {
                    BucketError::Request {
                        action: format!("bucket {}", self.name),
                        message: "no such bucket".into(),
                        source: Box::new(e),
                    }
                } else {
                    request_error(format!("bucket {}", self.name), e)
                }
            })
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, BucketError> {
        self.list_pages(prefix, None, |page| {
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect()
        })
        .await
    }

    async fn list_prefixes(
        &self,
        prefix: &str,
        delimiter: &str,
    ) -> Result<Vec<String>, BucketError> {
        self.list_pages(prefix, Some(delimiter), |page| {
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned))
                .collect()
        })
        .await
    }

    /// Every version and delete marker under `prefix`.
    async fn list_versions(&self, prefix: &str) -> Result<Vec<VersionRow>, BucketError> {
        let mut rows = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.name)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| {
                    request_error(
                        format!("listing versions of s3://{}/{prefix}", self.name),
                        e,
                    )
                })?;
            for v in page.versions() {
                rows.push(VersionRow {
                    key: v.key().unwrap_or_default().to_owned(),
                    version_id: v.version_id().map(str::to_owned),
                    is_latest: v.is_latest().unwrap_or(false),
                    delete_marker: false,
                });
            }
            for m in page.delete_markers() {
                rows.push(VersionRow {
                    key: m.key().unwrap_or_default().to_owned(),
                    version_id: m.version_id().map(str::to_owned),
                    is_latest: m.is_latest().unwrap_or(false),
                    delete_marker: true,
                });
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        Ok(rows)
    }

    /// The current version of `key`, with the SHA-256 S3 stored for it.
    async fn get(&self, key: &str) -> Result<Fetched, BucketError> {
        let action = || format!("reading s3://{}/{key}", self.name);
        let out = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| request_error(action(), e))?;
        let checksum_sha256 = out.checksum_sha256().map(str::to_owned);
        let content_encoding = out.content_encoding().map(str::to_owned);
        let version_id = out.version_id().map(str::to_owned);
        let retention = Retention {
            mode: out.object_lock_mode().map(|m| m.as_str().to_owned()),
            retain_until: out
                .object_lock_retain_until_date()
                .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        };
        let metadata = out
            .metadata()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let body = out.body.collect().await.map_err(|e| BucketError::Request {
            action: action(),
            message: e.to_string(),
            source: Box::new(e),
        })?;
        Ok(Fetched {
            body: body.into_bytes().to_vec(),
            checksum_sha256,
            content_encoding,
            version_id,
            retention,
            metadata,
        })
    }

    /// The Object Lock retention of the current version of `key`, from its headers.
    async fn retention(&self, key: &str) -> Result<Retention, BucketError> {
        let out = self
            .client
            .head_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| request_error(format!("reading s3://{}/{key}", self.name), e))?;
        Ok(Retention {
            mode: out.object_lock_mode().map(|m| m.as_str().to_owned()),
            retain_until: out
                .object_lock_retain_until_date()
                .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        })
    }
}

/// One version of a key in a [`MemoryBucket`]: an object, or a delete marker.
#[derive(Debug, Clone)]
enum MemoryVersion {
    Object(Fetched),
    DeleteMarker { version_id: String },
}

/// A real in-memory bucket with versioning: what the function writes (one version per key,
/// checksum and lock set) and what tampering leaves behind (a second version, a delete
/// marker, an object without checksum or lock).
#[derive(Debug, Clone)]
pub struct MemoryBucket {
    name: String,
    /// Each key's versions, oldest first.
    keys: Arc<Mutex<BTreeMap<String, Vec<MemoryVersion>>>>,
}

/// The retention a [`MemoryBucket`] puts on what [`MemoryBucket::put`] stores, as a bucket
/// with a default Object Lock retention does.
pub const MEMORY_RETENTION: (&str, &str) = ("COMPLIANCE", "2036-12-03T00:00:00Z");

impl MemoryBucket {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            keys: Arc::default(),
        }
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<MemoryVersion>>> {
        // A panicking test thread must not hide the bucket from the assertions.
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new version of `key` as the function does: with its SHA-256 and the
    /// bucket's default retention. A second put of a key is an overwrite.
    pub fn put(&self, key: &str, body: Vec<u8>, metadata: BTreeMap<String, String>) {
        let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&body));
        let content_encoding = key.ends_with(".gz").then(|| "gzip".to_owned());
        self.put_version(
            key,
            Fetched {
                body,
                checksum_sha256: Some(checksum),
                content_encoding,
                version_id: None,
                retention: Retention {
                    mode: Some(MEMORY_RETENTION.0.to_owned()),
                    retain_until: Some(MEMORY_RETENTION.1.to_owned()),
                },
                metadata,
            },
        );
    }

    /// Stores a new version of `key` exactly as given (its version id is assigned).
    pub fn put_version(&self, key: &str, mut fetched: Fetched) {
        let mut keys = self.keys();
        let versions = keys.entry(key.to_owned()).or_default();
        fetched.version_id = Some(format!("v{}", versions.len() + 1));
        versions.push(MemoryVersion::Object(fetched));
    }

    /// Deletes `key` as a versioned bucket does: a delete marker hides its versions.
    pub fn delete(&self, key: &str) {
        let mut keys = self.keys();
        let versions = keys.entry(key.to_owned()).or_default();
        let version_id = format!("v{}", versions.len() + 1);
        versions.push(MemoryVersion::DeleteMarker { version_id });
    }

    fn current(&self, key: &str) -> Result<Fetched, BucketError> {
        match self.keys().get(key).and_then(|v| v.last()) {
            Some(MemoryVersion::Object(fetched)) => Ok(fetched.clone()),
            _ => Err(BucketError::Request {
                action: format!("reading memory://{}/{key}", self.name),
                message: "no such key".to_owned(),
                source: "NoSuchKey".into(),
            }),
        }
    }
}

impl Bucket for MemoryBucket {
    fn name(&self) -> &str {
        &self.name
    }

    async fn check(&self) -> Result<(), BucketError> {
        Ok(())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, BucketError> {
        Ok(self
            .keys()
            .iter()
            .filter(|(key, versions)| {
                key.starts_with(prefix) && matches!(versions.last(), Some(MemoryVersion::Object(_)))
            })
            .map(|(key, _)| key.clone())
            .collect())
    }

    async fn list_prefixes(
        &self,
        prefix: &str,
        delimiter: &str,
    ) -> Result<Vec<String>, BucketError> {
        let mut out: Vec<String> = Vec::new();
        for key in self.list_keys(prefix).await? {
            let rest = &key[prefix.len()..];
            if let Some(end) = rest.find(delimiter) {
                let common = format!("{prefix}{}", &rest[..end + delimiter.len()]);
                if out.last() != Some(&common) {
                    out.push(common);
                }
            }
        }
        Ok(out)
    }

    async fn list_versions(&self, prefix: &str) -> Result<Vec<VersionRow>, BucketError> {
        let keys = self.keys();
        let mut rows = Vec::new();
        for (key, versions) in keys.range(prefix.to_owned()..) {
            if !key.starts_with(prefix) {
                break;
            }
            let latest = versions.len() - 1;
            for (index, version) in versions.iter().enumerate().rev() {
                let (version_id, delete_marker) = match version {
                    MemoryVersion::Object(fetched) => (fetched.version_id.clone(), false),
                    MemoryVersion::DeleteMarker { version_id } => (Some(version_id.clone()), true),
                };
                rows.push(VersionRow {
                    key: key.clone(),
                    version_id,
                    is_latest: index == latest,
                    delete_marker,
                });
            }
        }
        Ok(rows)
    }

    async fn get(&self, key: &str) -> Result<Fetched, BucketError> {
        self.current(key)
    }

    async fn retention(&self, key: &str) -> Result<Retention, BucketError> {
        self.current(key).map(|fetched| fetched.retention)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory bucket lists like S3: keys ascending, each key's versions newest first,
    /// a delete marker hiding the key from plain listings and reads.
    #[tokio::test]
    async fn memory_bucket_lists_versions_like_s3() {
        let bucket = MemoryBucket::new("b");
        bucket.put("a/1", b"one".to_vec(), BTreeMap::new());
        bucket.put("a/2", b"two".to_vec(), BTreeMap::new());
        bucket.put("a/2", b"forged".to_vec(), BTreeMap::new());
        bucket.put("a/x/3", b"three".to_vec(), BTreeMap::new());
        bucket.delete("a/1");
        let rows = bucket.list_versions("a/").await.unwrap();
        let shown: Vec<(&str, Option<&str>, bool, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.key.as_str(),
                    r.version_id.as_deref(),
                    r.is_latest,
                    r.delete_marker,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("a/1", Some("v2"), true, true),
                ("a/1", Some("v1"), false, false),
                ("a/2", Some("v2"), true, false),
                ("a/2", Some("v1"), false, false),
                ("a/x/3", Some("v1"), true, false),
            ]
        );
        assert_eq!(bucket.list_keys("a/").await.unwrap(), ["a/2", "a/x/3"]);
        assert_eq!(bucket.list_prefixes("a/", "/").await.unwrap(), ["a/x/"]);
        assert_eq!(bucket.get("a/2").await.unwrap().body, b"forged");
        assert!(bucket.get("a/1").await.is_err());
    }
}
