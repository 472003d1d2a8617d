//! The audit bucket, as both rooms reach it: the only place that talks to S3.
//!
//! Two ports, each with an S3 adapter and an in-memory one: [`sink`] writes objects at most
//! once (the function's side), [`bucket`] lists and reads them back with their versions,
//! checksums and locks (the auditor's side). Both build their S3 client here, from the same
//! settings, so the function and the CLI can never disagree on how to reach a bucket.

use std::time::Duration;

use aws_sdk_s3::config::SharedHttpClient;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls;

pub mod bucket;
pub mod secret;
pub mod sink;

/// The environment variable that asks for path-style addressing (local S3 servers).
pub const FORCE_PATH_STYLE_VAR: &str = "AUDIT_S3_FORCE_PATH_STYLE";

/// The values [`FORCE_PATH_STYLE_VAR`] accepts.
pub const FORCE_PATH_STYLE_RULE: &str = "true or false (default false)";

/// A setting of the S3 client that is not one of its accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?} is invalid: expected {expected}")]
pub struct InvalidSetting {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// Reads `AUDIT_S3_FORCE_PATH_STYLE` through `lookup`: unset or empty is false, otherwise
/// exactly `true` or `false`. The function and the CLI both read it here.
pub fn force_path_style(lookup: impl Fn(&str) -> Option<String>) -> Result<bool, InvalidSetting> {
    match lookup(FORCE_PATH_STYLE_VAR).as_deref() {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(InvalidSetting {
            variable: FORCE_PATH_STYLE_VAR,
            value: other.to_owned(),
            expected: FORCE_PATH_STYLE_RULE,
        }),
    }
}

/// The environment variable bounding one attempt of an S3 call.
pub const ATTEMPT_TIMEOUT_VAR: &str = "AUDIT_S3_ATTEMPT_TIMEOUT_MS";
/// The environment variable bounding one S3 call with all its retries.
pub const OPERATION_TIMEOUT_VAR: &str = "AUDIT_S3_OPERATION_TIMEOUT_MS";
/// The values [`ATTEMPT_TIMEOUT_VAR`] accepts.
pub const ATTEMPT_TIMEOUT_RULE: &str = "milliseconds from 100 to 60000 (default 3000)";
/// The values [`OPERATION_TIMEOUT_VAR`] accepts.
pub const OPERATION_TIMEOUT_RULE: &str =
    "milliseconds from 100 to 300000, at least AUDIT_S3_ATTEMPT_TIMEOUT_MS (default 10000)";

/// How long the S3 client waits, set explicitly rather than left to the SDK, which by default
/// bounds only the connection: without them an S3 answer held for a minute holds the
/// invocation for a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// One attempt (request sent to answer read); a slow attempt is retried by the SDK.
    pub attempt: Duration,
    /// One call, all its attempts and the pauses between them.
    pub operation: Duration,
}

impl Default for S3Timeouts {
    /// S3's own advice for small objects is to retry a request that has not answered in about
    /// 2 s; 3 s per attempt leaves room for a batch object of a few MB, and 10 s lets the
    /// standard retry mode make its three attempts.
    fn default() -> Self {
        Self {
            attempt: Duration::from_millis(3_000),
            operation: Duration::from_millis(10_000),
        }
    }
}

impl S3Timeouts {
    /// Reads [`ATTEMPT_TIMEOUT_VAR`] and [`OPERATION_TIMEOUT_VAR`] through `lookup` (unset or
    /// empty: the default). The operation must allow at least one whole attempt.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidSetting> {
        let defaults = Self::default();
        let attempt = millis(
            &lookup,
            ATTEMPT_TIMEOUT_VAR,
            100..=60_000,
            defaults.attempt,
            ATTEMPT_TIMEOUT_RULE,
        )?;
        let operation = millis(
            &lookup,
            OPERATION_TIMEOUT_VAR,
            100..=300_000,
            defaults.operation,
            OPERATION_TIMEOUT_RULE,
        )?;
        if operation < attempt {
            return Err(InvalidSetting {
                variable: OPERATION_TIMEOUT_VAR,
                value: operation.as_millis().to_string(),
                expected: OPERATION_TIMEOUT_RULE,
            });
        }
        Ok(Self { attempt, operation })
    }

    /// The SDK's form of these timeouts (the connect timeout keeps the SDK's default).
    pub fn sdk_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// A duration in milliseconds within `range`; unset or empty is `default`.
fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: Duration,
    expected: &'static str,
) -> Result<Duration, InvalidSetting> {
    match lookup(variable).filter(|value| !value.is_empty()) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(ms) if range.contains(&ms) => Ok(Duration::from_millis(ms)),
            _ => Err(InvalidSetting {
                variable,
                value: text,
                expected,
            }),
        },
    }
}

/// The HTTPS client every AWS client here sends its requests through: hyper 1 with rustls on
/// the *ring* crypto provider, trusting the system's root certificates (read once, at the first
/// connection).
///
/// Ring, not the SDK's default aws-lc: the same TLS 1.2/1.3 cipher suites the SDK allows, with no
/// C library to compile from source and a smaller bootstrap. What ring lacks is the hybrid
/// post-quantum key exchange and a FIPS mode; a deployment that needs either can swap the
/// provider here (`CryptoMode::AwsLc` or `AwsLcFips`, with the matching crate feature).
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// The auditor's AWS configuration: the SDK's whole chain, as the AWS CLI reads it (region and
/// credentials from the environment, profiles, SSO, `credential_process`, IMDS;
/// `AWS_ENDPOINT_URL_<SERVICE>` for local servers).
///
/// Loaded once per process: a command that reads the audit bucket, the trail bucket and the
/// redaction secret shares one configuration, so profile files are read and credentials (an SSO
/// token exchange, an assumed role) resolved once, not once per client.
pub async fn sdk_config() -> aws_config::SdkConfig {
    static SHARED: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    SHARED
        .get_or_init(|| async {
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .http_client(https_client())
                .load()
                .await
        })
        .await
        .clone()
}

/// The S3 client from the auditor's configuration ([`sdk_config`]), with path-style
/// addressing when asked for. The SDK's default timeouts apply (the auditor's reads may
/// stream large objects).
pub async fn client(force_path_style: bool) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config().await)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The writer's S3 client (the function's, and `recover`'s, which writes as the function
/// does): `base` with path-style addressing when asked for and explicit attempt and operation
/// timeouts.
pub fn writer_client(
    base: aws_sdk_s3::config::Builder,
    force_path_style: bool,
    timeouts: S3Timeouts,
) -> aws_sdk_s3::Client {
    let config = base
        .force_path_style(force_path_style)
        .timeout_config(timeouts.sdk_config())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_style(value: Option<&str>) -> Result<bool, InvalidSetting> {
        force_path_style(|_| value.map(str::to_owned))
    }

    /// The CLI and the function read the setting one way: exactly true or false, unset or
    /// empty meaning false; anything else (even with spaces around) names the variable.
    #[test]
    fn path_style_accepts_exactly_true_or_false() {
        assert_eq!(path_style(None), Ok(false));
        assert_eq!(path_style(Some("")), Ok(false));
        assert_eq!(path_style(Some("false")), Ok(false));
        assert_eq!(path_style(Some("true")), Ok(true));
        for bad in [" true", "TRUE", "1", "yes"] {
            let error = path_style(Some(bad)).unwrap_err();
            assert_eq!(error.variable, FORCE_PATH_STYLE_VAR);
            assert!(error.to_string().contains("true or false"), "{error}");
        }
    }

    fn timeouts(vars: &[(&str, &str)]) -> Result<S3Timeouts, InvalidSetting> {
        S3Timeouts::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// Unset or empty timeouts take the defaults, which fit one write well inside the
    /// template's 60 s function timeout.
    #[test]
    fn timeouts_default_when_unset_or_empty() {
        let expected = S3Timeouts {
            attempt: Duration::from_secs(3),
            operation: Duration::from_secs(10),
        };
        assert_eq!(timeouts(&[]), Ok(expected));
        assert_eq!(
            timeouts(&[(ATTEMPT_TIMEOUT_VAR, ""), (OPERATION_TIMEOUT_VAR, "")]),
            Ok(expected)
        );
        assert_eq!(
            timeouts(&[
                (ATTEMPT_TIMEOUT_VAR, "1000"),
                (OPERATION_TIMEOUT_VAR, "2500")
            ]),
            Ok(S3Timeouts {
                attempt: Duration::from_millis(1000),
                operation: Duration::from_millis(2500),
            })
        );
    }

    /// A timeout out of range, not a whole number of milliseconds, or an operation shorter
    /// than one attempt names the variable and the accepted values.
    #[test]
    fn bad_timeouts_name_the_variable_and_the_range() {
        for (vars, variable) in [
            (&[(ATTEMPT_TIMEOUT_VAR, "99")][..], ATTEMPT_TIMEOUT_VAR),
            (&[(ATTEMPT_TIMEOUT_VAR, "3s")][..], ATTEMPT_TIMEOUT_VAR),
            (
                &[(OPERATION_TIMEOUT_VAR, "300001")][..],
                OPERATION_TIMEOUT_VAR,
            ),
            (&[(OPERATION_TIMEOUT_VAR, "-1")][..], OPERATION_TIMEOUT_VAR),
            (
                &[
                    (ATTEMPT_TIMEOUT_VAR, "5000"),
                    (OPERATION_TIMEOUT_VAR, "4000"),
                ][..],
                OPERATION_TIMEOUT_VAR,
            ),
        ] {
            let error = timeouts(vars).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().contains("milliseconds from"), "{error}");
        }
    }

    /// The SDK's timeout settings carry exactly the configured values.
    #[test]
    fn timeouts_reach_the_sdk_config() {
        let config = S3Timeouts::default().sdk_config();
        assert_eq!(
            config.operation_attempt_timeout(),
            Some(Duration::from_secs(3))
        );
        assert_eq!(config.operation_timeout(), Some(Duration::from_secs(10)));
    }
}
