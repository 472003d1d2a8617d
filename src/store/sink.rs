//! Where finished objects go: the port ([`Sink`]) and its two adapters, S3 and memory.
//!
//! A sink writes one object under one key, at most once: a key that already holds an
//! object is left alone and reported as [`PutOutcome::AlreadyExists`] (a re-delivered
//! record). It also tells the user metadata of a stored object ([`Sink::head`]), which is
//! how the handler learns what an object written by an earlier delivery holds. Sinks know
//! nothing of records or documents; that is the handler's business.
//!
//! [`SinkError`] carries only what the adapters produce. The memory adapter's injected
//! failures are the errors the SDK gives for a network that failed, so a test sees
//! exactly what an outage of S3 looks like.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_s3::error::{ConnectorError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What a successful put did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was stored.
    Written,
    /// An object already existed under the key (written by an earlier delivery), and was
    /// left untouched.
    AlreadyExists,
}

/// User metadata of an object: names (lower case, without S3's `x-amz-meta-` prefix) to
/// values.
pub type Metadata = BTreeMap<String, String>;

/// One object to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub content_encoding: Option<&'static str>,
    /// Stored with the object (S3: `x-amz-meta-<name>` headers) and returned by
    /// [`Sink::head`]. Names are lower case ASCII, values ASCII.
    pub metadata: Metadata,
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
    /// HeadObject failed (after the SDK's retries).
    #[error("HeadObject s3://{bucket}/{key} failed")]
    Head {
        bucket: String,
        key: String,
        #[source]
        source: Box<SdkError<HeadObjectError>>,
    },
}

impl SinkError {
    /// Whether the same call may succeed later (everything but a programming error is).
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Conflict { .. } => true,
            Self::S3 { source, .. } => !matches!(source.as_ref(), SdkError::ConstructionFailure(_)),
            Self::Head { source, .. } => {
                !matches!(source.as_ref(), SdkError::ConstructionFailure(_))
            }
        }
    }
}

/// Writes objects, each at most once.
///
/// The returned future is `Send` so the handler can run many writes at once as tasks of any
/// tokio runtime (the function's is single-threaded; `recover`'s is not).
pub trait Sink: Send + Sync + 'static {
    /// Stores `object` unless its key already holds one.
    fn put(&self, object: Object) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send;

    /// The user metadata of the object under `key`, or `None` when there is none.
    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Metadata>, SinkError>> + Send;
}

impl<S: Sink> Sink for Arc<S> {
    fn put(&self, object: Object) -> impl Future<Output = Result<PutOutcome, SinkError>> + Send {
        S::put(self, object)
    }

    fn head(&self, key: &str) -> impl Future<Output = Result<Option<Metadata>, SinkError>> + Send {
        S::head(self, key)
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
            .set_metadata(
                (!object.metadata.is_empty()).then(|| object.metadata.into_iter().collect()),
            )
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

    async fn head(&self, key: &str) -> Result<Option<Metadata>, SinkError> {
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(
                output
                    .metadata()
                    .map(|m| {
                        // S3 returns names as sent (lower case); lower-casing again keeps
                        // servers that echo other cases readable.
                        m.iter()
                            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            )),
            Err(error)
                if matches!(error.as_service_error(), Some(HeadObjectError::NotFound(_))) =>
            {
                Ok(None)
            }
            Err(error)
                if error
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404) =>
            {
                Ok(None)
            }
            Err(error) => Err(SinkError::Head {
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                source: Box::new(error),
            }),
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
    pub metadata: Metadata,
}

type FailurePredicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What an injected failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failing {
    /// The put fails and stores nothing.
    Put,
    /// The put stores the object, then fails: S3 stored it but the answer never arrived.
    PutAfterStoring,
    /// The head fails.
    Head,
}

/// The bucket a [`MemorySink`] names in its errors.
const MEMORY_BUCKET: &str = "memory";

impl Failing {
    /// The error the S3 adapter returns for the same event, built through the SDK's own
    /// constructors: a connection that failed before anything was sent, or a request
    /// whose answer never came.
    fn error(self, key: &str) -> SinkError {
        let (bucket, key) = (MEMORY_BUCKET.to_owned(), key.to_owned());
        let refused = || ConnectorError::io("injected failure: connection refused".into());
        match self {
            Self::Put => SinkError::S3 {
                bucket,
                key,
                source: Box::new(SdkError::dispatch_failure(refused())),
            },
            Self::PutAfterStoring => SinkError::S3 {
                bucket,
                key,
                source: Box::new(SdkError::timeout_error(
                    "injected failure: stored, but the answer never came",
                )),
            },
            Self::Head => SinkError::Head {
                bucket,
                key,
                source: Box::new(SdkError::dispatch_failure(refused())),
            },
        }
    }
}

/// A real in-memory sink with the same at-most-once rule as S3, and failure injection
/// for the crate's unit tests: a put whose key matches an injected predicate fails and
/// stores nothing (or, for an ambiguous write, stores and then fails); a head can be made
/// to fail too. Integration tests take S3 itself down instead (a proxy in `tests/`).
#[derive(Default)]
pub struct MemorySink {
    objects: Mutex<BTreeMap<String, StoredObject>>,
    failures: Mutex<Vec<(Failing, FailurePredicate)>>,
    /// Puts that answer late (`None`: never), by key.
    delays: Mutex<Vec<(Option<std::time::Duration>, FailurePredicate)>>,
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
    #[cfg(test)]
    pub(crate) fn fail_when(&self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) {
        lock(&self.failures).push((Failing::Put, Arc::new(predicate)));
    }

    /// Makes every later put whose key satisfies `predicate` store its object and then
    /// fail (an ambiguous write: the caller cannot tell it was stored).
    #[cfg(test)]
    pub(crate) fn fail_after_storing_when(
        &self,
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) {
        lock(&self.failures).push((Failing::PutAfterStoring, Arc::new(predicate)));
    }

    /// Makes every later head of a key satisfying `predicate` fail.
    #[cfg(test)]
    pub(crate) fn fail_head_when(&self, predicate: impl Fn(&str) -> bool + Send + Sync + 'static) {
        lock(&self.failures).push((Failing::Head, Arc::new(predicate)));
    }

    /// Makes every later put whose key satisfies `predicate` answer only after `delay` (on
    /// tokio's clock), or never when `delay` is `None`: a slow or silent S3. A put that
    /// answers stores its object when it answers.
    #[cfg(test)]
    pub(crate) fn answer_after_when(
        &self,
        delay: Option<std::time::Duration>,
        predicate: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) {
        lock(&self.delays).push((delay, Arc::new(predicate)));
    }

    /// How long a put of `key` takes to answer: `Some(None)` never.
    fn delay(&self, key: &str) -> Option<Option<std::time::Duration>> {
        lock(&self.delays)
            .iter()
            .find(|(_, applies)| applies(key))
            .map(|(delay, _)| *delay)
    }

    /// The error of an injected failure, if `kind` is injected for `key`.
    fn injected(&self, kind: Failing, key: &str) -> Option<SinkError> {
        let failing = lock(&self.failures)
            .iter()
            .any(|(k, fails)| *k == kind && fails(key));
        failing.then(|| kind.error(key))
    }

    /// Makes every later put whose key contains `fragment` fail.
    #[cfg(test)]
    pub(crate) fn fail_containing(&self, fragment: impl Into<String>) {
        let fragment = fragment.into();
        self.fail_when(move |k| k.contains(&fragment));
    }

    /// Removes all injected failures (the "S3 is back" moment).
    #[cfg(test)]
    pub(crate) fn heal(&self) {
        lock(&self.failures).clear();
    }

    /// A snapshot of everything stored, by key.
    pub fn objects(&self) -> BTreeMap<String, StoredObject> {
        lock(&self.objects).clone()
    }

    /// Every key a put was attempted for, in order of arrival.
    #[cfg(test)]
    pub(crate) fn attempts(&self) -> Vec<String> {
        lock(&self.attempts).clone()
    }
}

impl Sink for MemorySink {
    async fn put(&self, object: Object) -> Result<PutOutcome, SinkError> {
        lock(&self.attempts).push(object.key.clone());
        match self.delay(&object.key) {
            None => {}
            Some(Some(delay)) => tokio::time::sleep(delay).await,
            Some(None) => std::future::pending::<()>().await,
        }
        if let Some(error) = self.injected(Failing::Put, &object.key) {
            return Err(error);
        }
        let fail_after = self.injected(Failing::PutAfterStoring, &object.key);
        let mut objects = lock(&self.objects);
        if objects.contains_key(&object.key) {
            return Ok(PutOutcome::AlreadyExists);
        }
        objects.insert(
            object.key.clone(),
            StoredObject {
                body: object.body,
                content_type: object.content_type,
                content_encoding: object.content_encoding,
                metadata: object.metadata,
            },
        );
        if let Some(error) = fail_after {
            return Err(error);
        }
        Ok(PutOutcome::Written)
    }

    async fn head(&self, key: &str) -> Result<Option<Metadata>, SinkError> {
        if let Some(error) = self.injected(Failing::Head, key) {
            return Err(error);
        }
        Ok(lock(&self.objects).get(key).map(|o| o.metadata.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::JSON;

    fn object(key: &str, body: &[u8]) -> Object {
        Object {
            key: key.to_owned(),
            body: body.to_vec(),
            content_type: JSON,
            content_encoding: None,
            metadata: Metadata::from([("records".to_owned(), "1".to_owned())]),
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
        assert_eq!(err.to_string(), "PutObject s3://memory/a/bad/1 failed");
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

    // An ambiguous write stores the object although the put fails; a second put then
    // finds it.
    #[tokio::test]
    async fn ambiguous_write_stores_and_fails() {
        let sink = MemorySink::new();
        sink.fail_after_storing_when(|k| k == "k");
        assert!(sink.put(object("k", b"x")).await.is_err());
        assert_eq!(sink.objects()["k"].body, b"x");
        sink.heal();
        assert_eq!(
            sink.put(object("k", b"y")).await.unwrap(),
            PutOutcome::AlreadyExists
        );
    }

    // An injected failure is the error the SDK gives when the network fails: nothing sent
    // (a dispatch failure) for a failed put or head, no answer (a timeout) for a put that
    // stored its object; never a kind of error S3 itself could not produce.
    #[tokio::test]
    async fn injected_failures_are_the_errors_of_a_failed_network() {
        let sink = MemorySink::new();
        sink.fail_when(|k| k == "refused");
        sink.fail_after_storing_when(|k| k == "lost");
        sink.fail_head_when(|_| true);
        match sink.put(object("refused", b"x")).await {
            Err(SinkError::S3 { source, .. }) => {
                assert!(matches!(*source, SdkError::DispatchFailure(_)));
            }
            other => panic!("expected a dispatch failure, got {other:?}"),
        }
        match sink.put(object("lost", b"x")).await {
            Err(SinkError::S3 { source, .. }) => {
                assert!(matches!(*source, SdkError::TimeoutError(_)));
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        match sink.head("lost").await {
            Err(error @ SinkError::Head { .. }) => {
                assert_eq!(error.to_string(), "HeadObject s3://memory/lost failed");
            }
            other => panic!("expected a failed head, got {other:?}"),
        }
    }

    // Head returns a stored object's metadata, None for a missing key, and fails when
    // told to.
    #[tokio::test]
    async fn head_returns_metadata_or_none() {
        let sink = MemorySink::new();
        sink.put(object("k", b"x")).await.unwrap();
        assert_eq!(
            sink.head("k").await.unwrap(),
            Some(Metadata::from([("records".to_owned(), "1".to_owned())]))
        );
        assert_eq!(sink.head("missing").await.unwrap(), None);
        sink.fail_head_when(|k| k == "k");
        assert!(sink.head("k").await.is_err());
    }
}
