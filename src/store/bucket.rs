//! The audit bucket, read side: the only place the CLI talks to S3.
//!
//! Lists keys and versions, fetches objects with the checksum S3 stored at write time, and
//! reads Object Lock retention from the object's headers (moto's GetObjectRetention is
//! broken in server mode, and the headers carry the same facts). It never writes or
//! deletes. The client honours the same settings as the function: the SDK's
//! `AWS_ENDPOINT_URL_S3`, `AWS_REGION` and credentials chain, plus `AUDIT_S3_FORCE_PATH_STYLE`.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::ChecksumMode;

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
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// The Object Lock retention on an object, from its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// `GOVERNANCE` or `COMPLIANCE`, when set.
    pub mode: Option<String>,
    /// RFC 3339, when set.
    pub retain_until: Option<String>,
}

/// A bucket and the client that reads it.
#[derive(Debug, Clone)]
pub struct Bucket {
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
            if chain.contains("credentials") {
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

impl Bucket {
    /// Builds the client from the environment (as the function does) for bucket `name`.
    pub async fn from_env(name: &str) -> Result<Self, BucketError> {
        let path_style = super::force_path_style(|k| std::env::var(k).ok())?;
        Ok(Self {
            client: super::client(path_style).await,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that the bucket exists and is reachable, for a clear first error.
    pub async fn check(&self) -> Result<(), BucketError> {
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

    /// Every key under `prefix` (current versions), ascending; `delimiter` groups like `ls`.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, BucketError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| request_error(format!("listing s3://{}/{prefix}", self.name), e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// The common prefixes one level below `prefix` (e.g. `table=T/` under `audit/`).
    pub async fn list_prefixes(
        &self,
        prefix: &str,
        delimiter: &str,
    ) -> Result<Vec<String>, BucketError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .delimiter(delimiter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| request_error(format!("listing s3://{}/{prefix}", self.name), e))?;
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
        }
        Ok(out)
    }

    /// Every version and delete marker under `prefix`.
    pub async fn list_versions(&self, prefix: &str) -> Result<Vec<VersionRow>, BucketError> {
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
    pub async fn get(&self, key: &str) -> Result<Fetched, BucketError> {
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
    pub async fn retention(&self, key: &str) -> Result<Retention, BucketError> {
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
