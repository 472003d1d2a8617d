//! The audit bucket, as both rooms reach it: the only place that talks to S3.
//!
//! Two ports, each with an S3 adapter and an in-memory one: [`sink`] writes objects at most
//! once (the function's side), [`bucket`] lists and reads them back with their versions,
//! checksums and locks (the auditor's side). Both build their S3 client here, from the same
//! settings, so the function and the CLI can never disagree on how to reach a bucket.

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

/// The S3 client, from the SDK's environment (region, credentials chain,
/// `AWS_ENDPOINT_URL_S3`), with path-style addressing when asked for.
pub async fn client(force_path_style: bool) -> aws_sdk_s3::Client {
    let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(force_path_style)
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
}
