//! The Lambda function's configuration, read and checked once at cold start.
//!
//! Built from a lookup function so tests never touch the process environment; a missing
//! or bad value is a [`ConfigError`] naming the variable and the values it accepts. This
//! module performs no IO beyond `std::env::var` in [`Config::from_env`].

use crate::key::MAX_PREFIX_BYTES;
use crate::pattern::{Pattern, PatternError};
use crate::store::{self, S3Timeouts};

/// Default `AUDIT_PREFIX`.
const DEFAULT_PREFIX: &str = "audit/";
/// Default `AUDIT_MAX_CONCURRENCY`.
const DEFAULT_MAX_CONCURRENCY: usize = 32;
/// Largest accepted `AUDIT_MAX_CONCURRENCY`.
const MAX_CONCURRENCY: usize = 1024;

/// How documents are grouped into objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One JSON object per stream record.
    Record,
    /// One gzip JSON Lines object per table and hour per invocation.
    Batch,
}

/// The function's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AUDIT_BUCKET`: where the documents go.
    pub bucket: String,
    /// `AUDIT_PREFIX`: key prefix, empty or ending in `/`.
    pub prefix: String,
    /// `AUDIT_MODE`.
    pub mode: Mode,
    /// `AUDIT_INCLUDE_IMAGES`: keep `old_image` / `new_image` in documents.
    pub include_images: bool,
    /// `AUDIT_MAX_CONCURRENCY`: S3 writes in flight at once (record mode).
    pub max_concurrency: usize,
    /// `AUDIT_S3_FORCE_PATH_STYLE`: path-style addressing, for local S3 servers.
    pub force_path_style: bool,
    /// `AUDIT_REDACT`: attribute paths withheld from the trail (empty: none).
    pub redact: Vec<Pattern>,
    /// `AUDIT_REDACT_SECRET_ARN`: the Secrets Manager secret keying the redaction tokens;
    /// set exactly when `redact` is not empty.
    pub redact_secret_arn: Option<String>,
    /// `AUDIT_S3_ATTEMPT_TIMEOUT_MS`, `AUDIT_S3_OPERATION_TIMEOUT_MS`: how long one S3 call
    /// may take; the handler stops starting calls when less than one call's worth is left.
    pub s3_timeouts: S3Timeouts,
}

/// A missing or invalid setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is required: {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("{variable}: {source}")]
    Pattern {
        variable: &'static str,
        #[source]
        source: PatternError,
    },
    #[error("{variable} is set but {other} is not: {expected}")]
    Unpaired {
        variable: &'static str,
        other: &'static str,
        expected: &'static str,
    },
}

impl ConfigError {
    /// The environment variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Missing { variable, .. }
            | Self::Invalid { variable, .. }
            | Self::Pattern { variable, .. }
            | Self::Unpaired { variable, .. } => variable,
        }
    }
}

const BUCKET_RULE: &str = "an S3 bucket name: 3 to 63 characters of a-z, 0-9, '.' and '-', \
     starting and ending with a letter or digit, no '..'";
const PREFIX_RULE: &str =
    "a key prefix of at most 512 bytes, not starting with '/' (default \"audit/\")";
const MODE_RULE: &str = "record or batch (default record)";
const BOOL_TRUE_RULE: &str = "true or false (default true)";
const CONCURRENCY_RULE: &str = "an integer from 1 to 1024 (default 32)";

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (variable name to value, `None` when unset).
    /// An empty value counts as unset for the optional settings.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket = lookup("AUDIT_BUCKET").unwrap_or_default();
        if bucket.is_empty() {
            return Err(ConfigError::Missing {
                variable: "AUDIT_BUCKET",
                expected: BUCKET_RULE,
            });
        }
        if !is_bucket_name(&bucket) {
            return Err(invalid("AUDIT_BUCKET", bucket, BUCKET_RULE));
        }
        // Unlike the others, an empty AUDIT_PREFIX is meaningful: keys at the bucket root.
        let prefix = match lookup("AUDIT_PREFIX") {
            None => DEFAULT_PREFIX.to_owned(),
            Some(prefix) => normalize_prefix(prefix)?,
        };
        let mode = match optional(&lookup, "AUDIT_MODE").as_deref() {
            None | Some("record") => Mode::Record,
            Some("batch") => Mode::Batch,
            Some(other) => return Err(invalid("AUDIT_MODE", other.to_owned(), MODE_RULE)),
        };
        let include_images = boolean(&lookup, "AUDIT_INCLUDE_IMAGES", true, BOOL_TRUE_RULE)?;
        let max_concurrency = match optional(&lookup, "AUDIT_MAX_CONCURRENCY") {
            None => DEFAULT_MAX_CONCURRENCY,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => return Err(invalid("AUDIT_MAX_CONCURRENCY", text, CONCURRENCY_RULE)),
            },
        };
        let force_path_style = store::force_path_style(&lookup)
            .map_err(|e| invalid(e.variable, e.value, e.expected))?;
        let (redact, redact_secret_arn) = redaction(&lookup)?;
        let s3_timeouts = S3Timeouts::from_lookup(&lookup)
            .map_err(|e| invalid(e.variable, e.value, e.expected))?;
        Ok(Self {
            bucket,
            prefix,
            mode,
            include_images,
            max_concurrency,
            force_path_style,
            redact,
            redact_secret_arn,
            s3_timeouts,
        })
    }
}

const REDACT_RULE: &str = "AUDIT_REDACT names the paths to withhold and \
     AUDIT_REDACT_SECRET_ARN the Secrets Manager secret (at least 32 bytes) keying their tokens; \
     set both or neither";

/// `AUDIT_REDACT` and `AUDIT_REDACT_SECRET_ARN`: both or neither, every pattern valid.
fn redaction(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(Vec<Pattern>, Option<String>), ConfigError> {
    let patterns = match optional(lookup, "AUDIT_REDACT") {
        Some(text) => Pattern::parse_list(&text).map_err(|source| ConfigError::Pattern {
            variable: "AUDIT_REDACT",
            source,
        })?,
        None => Vec::new(),
    };
    let secret = optional(lookup, "AUDIT_REDACT_SECRET_ARN");
    match (patterns.is_empty(), &secret) {
        (false, None) => Err(ConfigError::Unpaired {
            variable: "AUDIT_REDACT",
            other: "AUDIT_REDACT_SECRET_ARN",
            expected: REDACT_RULE,
        }),
        (true, Some(_)) => Err(ConfigError::Unpaired {
            variable: "AUDIT_REDACT_SECRET_ARN",
            other: "AUDIT_REDACT",
            expected: REDACT_RULE,
        }),
        _ => Ok((patterns, secret)),
    }
}

fn invalid(variable: &'static str, value: String, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value,
        expected,
    }
}

fn optional(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).filter(|value| !value.is_empty())
}

fn boolean(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: bool,
    expected: &'static str,
) -> Result<bool, ConfigError> {
    match optional(lookup, variable).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(invalid(variable, other.to_owned(), expected)),
    }
}

/// Adds the trailing `/` so documents sit "in a folder"; rejects a leading `/` (it would
/// create an empty first path segment, which most tools show as a nameless folder) and
/// prefixes so long that keys could exceed S3's 1024 bytes.
fn normalize_prefix(mut prefix: String) -> Result<String, ConfigError> {
    if prefix.starts_with('/') || prefix.chars().any(char::is_control) {
        return Err(invalid("AUDIT_PREFIX", prefix, PREFIX_RULE));
    }
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    if prefix.len() > MAX_PREFIX_BYTES {
        return Err(invalid("AUDIT_PREFIX", prefix, PREFIX_RULE));
    }
    Ok(prefix)
}

/// S3's general-purpose bucket naming rules (the subset a function can check offline).
fn is_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    fn error_message(vars: &[(&str, &str)]) -> String {
        config(vars).unwrap_err().to_string()
    }

    // With only the bucket set, every other setting takes its documented default.
    #[test]
    fn defaults_apply_when_only_the_bucket_is_set() {
        assert_eq!(
            config(&[("AUDIT_BUCKET", "audit-bucket")]).unwrap(),
            Config {
                bucket: "audit-bucket".to_owned(),
                prefix: "audit/".to_owned(),
                mode: Mode::Record,
                include_images: true,
                max_concurrency: 32,
                force_path_style: false,
                redact: Vec::new(),
                redact_secret_arn: None,
                s3_timeouts: S3Timeouts::default(),
            }
        );
    }

    // Empty optional values count as unset (SAM templates often pass "" for "default").
    #[test]
    fn empty_optional_values_take_the_default() {
        let c = config(&[
            ("AUDIT_BUCKET", "b12"),
            ("AUDIT_MODE", ""),
            ("AUDIT_INCLUDE_IMAGES", ""),
            ("AUDIT_MAX_CONCURRENCY", ""),
            ("AUDIT_S3_FORCE_PATH_STYLE", ""),
        ])
        .unwrap();
        assert_eq!(
            (
                c.mode,
                c.include_images,
                c.max_concurrency,
                c.force_path_style
            ),
            (Mode::Record, true, 32, false)
        );
    }

    // Every setting can be changed from its default.
    #[test]
    fn every_setting_can_be_set() {
        let c = config(&[
            ("AUDIT_BUCKET", "my.bucket-1"),
            ("AUDIT_PREFIX", "x/y/"),
            ("AUDIT_MODE", "batch"),
            ("AUDIT_INCLUDE_IMAGES", "false"),
            ("AUDIT_MAX_CONCURRENCY", "1024"),
            ("AUDIT_S3_FORCE_PATH_STYLE", "true"),
            ("AUDIT_REDACT", "/email, /contacts/*/phone"),
            ("AUDIT_REDACT_SECRET_ARN", SECRET_ARN),
            ("AUDIT_S3_ATTEMPT_TIMEOUT_MS", "1500"),
            ("AUDIT_S3_OPERATION_TIMEOUT_MS", "4000"),
        ])
        .unwrap();
        assert_eq!(
            c,
            Config {
                bucket: "my.bucket-1".to_owned(),
                prefix: "x/y/".to_owned(),
                mode: Mode::Batch,
                include_images: false,
                max_concurrency: 1024,
                force_path_style: true,
                redact: Pattern::parse_list("/email,/contacts/*/phone").unwrap(),
                redact_secret_arn: Some(SECRET_ARN.to_owned()),
                s3_timeouts: S3Timeouts {
                    attempt: std::time::Duration::from_millis(1500),
                    operation: std::time::Duration::from_millis(4000),
                },
            }
        );
    }

    const SECRET_ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:audit-AbCdEf";

    // Redaction takes both its settings or neither, and a bad pattern stops the cold start
    // naming the variable and the rule.
    #[test]
    fn redaction_needs_both_settings_and_valid_patterns() {
        let only_paths = error_message(&[("AUDIT_BUCKET", "b12"), ("AUDIT_REDACT", "/email")]);
        assert!(
            only_paths.starts_with("AUDIT_REDACT is set but AUDIT_REDACT_SECRET_ARN is not"),
            "{only_paths}"
        );
        let only_secret = error_message(&[
            ("AUDIT_BUCKET", "b12"),
            ("AUDIT_REDACT_SECRET_ARN", SECRET_ARN),
        ]);
        assert!(
            only_secret.starts_with("AUDIT_REDACT_SECRET_ARN is set but AUDIT_REDACT is not"),
            "{only_secret}"
        );
        let bad = config(&[
            ("AUDIT_BUCKET", "b12"),
            ("AUDIT_REDACT", "/email,card"),
            ("AUDIT_REDACT_SECRET_ARN", SECRET_ARN),
        ])
        .unwrap_err();
        assert_eq!(bad.variable(), "AUDIT_REDACT");
        assert!(
            bad.to_string().contains("\"card\" is not a path pattern"),
            "{bad}"
        );
    }

    // A missing or empty bucket stops the cold start, naming the variable.
    #[test]
    fn missing_bucket_is_named() {
        for vars in [&[][..], &[("AUDIT_BUCKET", "")][..]] {
            let err = config(vars).unwrap_err();
            assert_eq!(err.variable(), "AUDIT_BUCKET");
            assert!(
                err.to_string()
                    .starts_with("AUDIT_BUCKET is required: an S3 bucket name")
            );
        }
    }

    // Bucket names S3 would refuse are rejected with the naming rule.
    #[test]
    fn invalid_bucket_names_are_rejected() {
        for name in [
            "ab",
            "Upper",
            "has_underscore",
            "-dash",
            "dot.",
            "a..b",
            &"a".repeat(64),
        ] {
            let message = error_message(&[("AUDIT_BUCKET", name)]);
            assert_eq!(
                message,
                format!("AUDIT_BUCKET={name:?} is invalid: expected {BUCKET_RULE}")
            );
        }
    }

    // The prefix gains a trailing '/', stays empty when empty, and may not start with '/'.
    #[test]
    fn prefix_is_normalized() {
        let prefix =
            |p: &str| config(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_PREFIX", p)]).map(|c| c.prefix);
        assert_eq!(prefix("audit").unwrap(), "audit/");
        assert_eq!(prefix("a/b/").unwrap(), "a/b/");
        assert_eq!(prefix("").unwrap(), "");
        assert_eq!(
            prefix("/audit").unwrap_err().to_string(),
            format!("AUDIT_PREFIX=\"/audit\" is invalid: expected {PREFIX_RULE}")
        );
        assert_eq!(
            prefix(&"p".repeat(512)).unwrap_err().variable(),
            "AUDIT_PREFIX"
        );
        assert_eq!(prefix(&"p".repeat(511)).unwrap().len(), 512);
    }

    // An unknown mode names the accepted values.
    #[test]
    fn bad_mode_names_accepted_values() {
        assert_eq!(
            error_message(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_MODE", "Record")]),
            "AUDIT_MODE=\"Record\" is invalid: expected record or batch (default record)"
        );
    }

    // Booleans are exactly true or false.
    #[test]
    fn bad_booleans_name_accepted_values() {
        assert_eq!(
            error_message(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_INCLUDE_IMAGES", "yes")]),
            "AUDIT_INCLUDE_IMAGES=\"yes\" is invalid: expected true or false (default true)"
        );
        assert_eq!(
            error_message(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_S3_FORCE_PATH_STYLE", "1")]),
            "AUDIT_S3_FORCE_PATH_STYLE=\"1\" is invalid: expected true or false (default false)"
        );
    }

    // Concurrency must be an integer within 1..=1024.
    #[test]
    fn bad_concurrency_names_the_range() {
        for value in ["0", "1025", "-1", "ten", "3.5"] {
            assert_eq!(
                error_message(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_MAX_CONCURRENCY", value)]),
                format!(
                    "AUDIT_MAX_CONCURRENCY={value:?} is invalid: expected an integer from 1 to 1024 (default 32)"
                )
            );
        }
        let one = config(&[("AUDIT_BUCKET", "bkt"), ("AUDIT_MAX_CONCURRENCY", "1")]).unwrap();
        assert_eq!(one.max_concurrency, 1);
    }

    // A bad S3 timeout stops the cold start like any other setting, naming its variable.
    #[test]
    fn bad_s3_timeout_stops_the_cold_start() {
        let err = config(&[
            ("AUDIT_BUCKET", "bkt"),
            ("AUDIT_S3_OPERATION_TIMEOUT_MS", "10 s"),
        ])
        .unwrap_err();
        assert_eq!(err.variable(), "AUDIT_S3_OPERATION_TIMEOUT_MS");
        assert_eq!(
            err.to_string(),
            format!(
                "AUDIT_S3_OPERATION_TIMEOUT_MS=\"10 s\" is invalid: expected {}",
                store::OPERATION_TIMEOUT_RULE
            )
        );
    }
}
