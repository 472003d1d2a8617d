//! Where finished objects go: the port ([`Sink`]) and its two adapters, S3 and memory.
//!
//! A sink writes one object under one key, at most once: a key that already holds an
//! object is left alone and reported as [`PutOutcome::AlreadyExists`] (a re-delivered
//! record). Sinks know nothing of records or documents; that is the handler's business.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine;
use sha2::{Digest, Sha256};

/// `Content-Type` of a record-mode document.
pub const JSON: &str = "application/json";
/// `Content-Type` of a batch-mode JSON Lines object.
pub const JSON_LINES: &str = "application/x-ndjson";
/// `Content-Encoding` of a batch-mode object.
pub const GZIP: &str = "gzip";

/// What a successful put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was stored.
    Written,
    /// An object already existed under the key (written by an earlier delivery), and was
    /// left untouched.
    AlreadyExists,
}

/// One object to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

/// A write that did not happen (after the SDK's own retries, for S3).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// S3 (or the network on the way) refused the write.
    #[error("PutObject s3://{bucket}/{key} failed")]
    S3 {
        bucket: String,
        key: String,
        #[source]
        source: Box<SdkError<PutObjectError>>,
    },
    /// 409 ConditionalRequestConflict: another conditional write of the same key was in
    /// flight. Whether ours landed is unknown, so the record counts as failed and is
    /// re-delivered; the next attempt then gets the object or a 412.
    #[error("PutObject s3://{bucket}/{key}: conflicting conditional write in flight (409), retry")]
    Conflict {
        bucket: String,
        key: String,
        #[source]
        source: Box<SdkError<PutObjectError>>,
    },
    /// The write's task panicked or vanished: it did not demonstrably happen.
    #[error("writing {key} ended without a result")]
    Panicked { key: String },
    /// A failure injected into a [`MemorySink`].
    #[error("injected failure writing {key}")]
    Injected { key: String },
}

impl SinkError {
    /// Whether the same write may succeed later (everything but a programming error is).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict { .. } | Self::Injected { .. } | Self::Panicked { .. } => true,
            Self::S3 { source, .. } => !matches!(source.as_ref(), SdkError::ConstructionFailure(_)),
        }
    }
}

/// Writes objects, each at most once.
///
/// The returned future is `Send` so the handler can run many writes at once on the
/// multi-threaded runtime.
pub trait Sink: Send + Sync + 'static {
    /// Stores `object` unless its key already holds one.
    fn put(&self, object: Object) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send;
}

impl<S: Sink> Sink for Arc<S> {
    fn put(&self, object: Object) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send {
        S::put(self, object)
    }
}

/// Writes to an S3 bucket with `If-None-Match: *` and a SHA-256 checksum.
#[derive(Debug, Clone)]
pub struct S3Sink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Sink {
    /// Wraps an existing client (built once per cold start).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Builds the client from the SDK's environment (region, credentials chain,
    /// `AWS_ENDPOINT_URL_S3`), with path-style addressing when asked for.
    pub async fn from_env(bucket: impl Into<String>, force_path_style: bool) -> Self {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(force_path_style)
            .build();
        Self::new(aws_sdk_s3::Client::from_conf(config), bucket)
    }

    /// The bucket written to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl Sink for S3Sink {
    async fn put(&self, object: Object) -> Result<PutOutcome, SinkError> {
        // The checksum is computed here and sent as a header rather than left to the SDK's
        // streaming trailer: Object Lock buckets require one, S3 stores it (so `verify`
        // can compare later), and a plain header works with every S3-compatible server.
        let checksum =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&object.body));
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .body(ByteStream::from(object.body))
            .content_type(object.content_type)
            .set_content_encoding(object.content_encoding.map(str::to_owned))
            .if_none_match("*")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(checksum)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PutOutcome::Written),
            Err(error) => match status_and_code(&error) {
                (Some(412), _) | (_, Some("PreconditionFailed")) => Ok(PutOutcome::AlreadyExists),
                (Some(409), _) | (_, Some("ConditionalRequestConflict")) => {
                    Err(SinkError::Conflict {
                        bucket: self.bucket.clone(),
                        key: object.key,
                        source: Box::new(error),
                    })
                }
                _ => Err(SinkError::S3 {
                    bucket: self.bucket.clone(),
                    key: object.key,
                    source: Box::new(error),
                }),
            },
        }
    }
}

/// The HTTP status and S3 error code of a failed call, when a response came back.
fn status_and_code(error: &SdkError<PutObjectError>) -> (Option<u16>, Option<&str>) {
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    (status, error.code())
}

/// An object held by a [`MemorySink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
}

type FailurePredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// A real in-memory sink with the same at-most-once rule as S3, and failure injection
/// for tests: a put whose key matches an injected predicate fails and stores nothing.
#[derive(Default)]
pub struct MemorySink {
    objects: Mutex<BTreeMap<String, StoredObject>>,
    failures: Mutex<Vec<FailurePredicate>>,
    attempts: Mutex<Vec<String>>,
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySink")
            .field("objects", &self.objects().len())
            .field("failures", &lock(&self.failures).len())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the sink's contents from the assertions.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later put whose key satisfies `predicate` fail.
    pub fn fail_when(&self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) {
        lock(&self.failures).push(Arc::new(predicate));
    }

    /// Makes every later put of exactly `key` fail.
    pub fn fail_key(&self, key: impl Into<String>) {
        let key = key.into();
        self.fail_when(move |k| k == key);
    }

    /// Makes every later put whose key contains `fragment` fail.
    pub fn fail_containing(&self, fragment: impl Into<String>) {
        let fragment = fragment.into();
        self.fail_when(move |k| k.contains(&fragment));
    }

    /// Removes all injected failures (the "S3 is back" moment).
    pub fn heal(&self) {
        lock(&self.failures).clear();
    }

    /// A snapshot of everything stored, by key.
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        lock(&self.objects).clone()
    }

    /// Every key a put was attempted for, in order of arrival.
    pub fn attempts(&self) -> Vec<String> {
        lock(&self.attempts).clone()
    }
}

impl Sink for MemorySink {
    async fn put(&self, object: Object) -> Result<PutOutcome, SinkError> {
        lock(&self.attempts).push(object.key.clone());
        let failing = lock(&self.failures).iter().any(|fails| fails(&object.key));
        if failing {
            return Err(SinkError::Injected { key: object.key });
        }
        let mut objects = lock(&self.objects);
        if objects.contains_key(&object.key) {
            return Ok(PutOutcome::AlreadyExists);
        }
        objects.insert(
            object.key,
            StoredObject {
                body: object.body,
                content_type: object.content_type,
                content_encoding: object.content_encoding,
            },
        );
        Ok(PutOutcome::Written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, body: &[u8]) -> Object {
        Object {
            key: key.to_owned(),
            body: body.to_vec(),
            content_type: JSON,
            content_encoding: None,
        }
    }

    // The memory sink keeps the first object under a key, as If-None-Match does on S3.
    #[tokio::test]
    async fn memory_sink_writes_once_per_key() {
        let sink = MemorySink::new();
        assert_eq!(
            sink.put(object("k", b"first")).await.unwrap(),
            PutOutcome::Written
        );
        assert_eq!(
            sink.put(object("k", b"second")).await.unwrap(),
            PutOutcome::AlreadyExists
        );
        assert_eq!(sink.objects()["k"].body, b"first");
    }

    // An injected failure stores nothing, is retryable, and heals.
    #[tokio::test]
    async fn injected_failure_stores_nothing_until_healed() {
        let sink = MemorySink::new();
        sink.fail_containing("bad");
        let err = sink.put(object("a/bad/1", b"x")).await.unwrap_err();
        assert!(err.is_retryable());
        assert_eq!(err.to_string(), "injected failure writing a/bad/1");
        assert!(sink.objects().is_empty());
        assert_eq!(
            sink.put(object("a/good/1", b"x")).await.unwrap(),
            PutOutcome::Written
        );
        sink.heal();
        assert_eq!(
            sink.put(object("a/bad/1", b"x")).await.unwrap(),
            PutOutcome::Written
        );
        assert_eq!(sink.attempts(), ["a/bad/1", "a/good/1", "a/bad/1"]);
    }
}
