//! Where and as whom the function reaches AWS: exactly what Lambda's environment gives it.
//!
//! Lambda sets the region and the execution role's temporary credentials as environment
//! variables in every execution environment. The function reads those and nothing else: no
//! profile files, no SSO, no instance metadata. So none of the SDK's credentials chain is linked
//! into the bootstrap (the CLI keeps it: `store::sdk_config`), nothing is probed at cold start,
//! and a missing variable (possible only outside Lambda) stops the cold start naming it.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

use super::config::ConfigError;
use crate::store;

const REGION_RULE: &str = "the AWS region, which Lambda sets (set it when running the function \
     elsewhere, with the credentials)";
const CREDENTIALS_RULE: &str = "the execution role's credentials, which Lambda sets \
     (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary ones, AWS_SESSION_TOKEN)";

/// The function's AWS environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaEnv {
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Region,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`. Their `Debug` shows
    /// the key id only.
    pub credentials: Credentials,
    /// `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`): a local S3 server.
    pub s3_endpoint: Option<String>,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER` (or `AWS_ENDPOINT_URL`).
    pub secrets_manager_endpoint: Option<String>,
}

impl LambdaEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`; empty counts as unset. The endpoint variables
    /// follow the SDK's rules: the service's own first, then the global one, neither when
    /// `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .ok_or(ConfigError::Missing {
                variable: "AWS_REGION",
                expected: REGION_RULE,
            })?;
        let required = |variable: &'static str| {
            get(variable).ok_or(ConfigError::Missing {
                variable,
                expected: CREDENTIALS_RULE,
            })
        };
        let credentials = Credentials::new(
            required("AWS_ACCESS_KEY_ID")?,
            required("AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN"),
            None,
            "Lambda environment",
        );
        let ignore_endpoints = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        let endpoint = |service: &str| {
            (!ignore_endpoints)
                .then(|| get(service).or_else(|| get("AWS_ENDPOINT_URL")))
                .flatten()
        };
        Ok(Self {
            region: Region::new(region),
            credentials,
            s3_endpoint: endpoint("AWS_ENDPOINT_URL_S3"),
            secrets_manager_endpoint: endpoint("AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        })
    }

    /// The S3 client configuration, to be finished by [`store::writer_client`].
    pub fn s3_config(&self) -> aws_sdk_s3::config::Builder {
        let mut builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(store::https_client());
        builder.set_endpoint_url(self.s3_endpoint.clone());
        builder
    }

    /// The Secrets Manager client that reads the redaction secret once at cold start.
    pub fn secrets_manager_client(&self) -> aws_sdk_secretsmanager::Client {
        let mut builder = aws_sdk_secretsmanager::config::Builder::new()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(self.region.clone())
            .credentials_provider(self.credentials.clone())
            .http_client(store::https_client());
        builder.set_endpoint_url(self.secrets_manager_endpoint.clone());
        let config = builder.build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<LambdaEnv, ConfigError> {
        LambdaEnv::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret-key-value"),
        ("AWS_SESSION_TOKEN", "session-token-value"),
    ];

    /// What Lambda sets is read as it is; with no endpoint variable the SDK's own endpoints
    /// are used.
    #[test]
    fn reads_what_lambda_sets() {
        let read = env(&LAMBDA).unwrap();
        assert_eq!(read.region, Region::new("eu-west-1"));
        assert_eq!(read.credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(read.credentials.secret_access_key(), "secret-key-value");
        assert_eq!(
            read.credentials.session_token(),
            Some("session-token-value")
        );
        assert_eq!(read.s3_endpoint, None);
        assert_eq!(read.secrets_manager_endpoint, None);
    }

    /// The secret key never appears in the settings' debug form (they may be logged).
    #[test]
    fn debug_never_shows_the_secrets() {
        let shown = format!("{:?}", env(&LAMBDA).unwrap());
        assert!(shown.contains("ASIAEXAMPLE"), "{shown}");
        assert!(!shown.contains("secret-key-value"), "{shown}");
        assert!(!shown.contains("session-token-value"), "{shown}");
    }

    /// Each missing variable stops the start, named; empty counts as missing.
    #[test]
    fn a_missing_variable_is_named() {
        for (dropped, named) in [
            ("AWS_REGION", "AWS_REGION"),
            ("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ] {
            let without: Vec<_> = LAMBDA
                .iter()
                .filter(|(n, _)| *n != dropped)
                .copied()
                .collect();
            assert_eq!(
                env(&without).unwrap_err().variable(),
                named,
                "without {dropped}"
            );
            let empty: Vec<_> = LAMBDA
                .iter()
                .map(|&(n, v)| (n, if n == dropped { "" } else { v }))
                .collect();
            assert_eq!(
                env(&empty).unwrap_err().variable(),
                named,
                "empty {dropped}"
            );
        }
        let no_token: Vec<_> = LAMBDA[..3].to_vec();
        assert_eq!(env(&no_token).unwrap().credentials.session_token(), None);
    }

    /// `AWS_DEFAULT_REGION` stands in for `AWS_REGION`, which wins when both are set.
    #[test]
    fn default_region_is_the_fallback() {
        let mut vars = LAMBDA[1..].to_vec();
        vars.push(("AWS_DEFAULT_REGION", "us-west-2"));
        assert_eq!(env(&vars).unwrap().region, Region::new("us-west-2"));
        vars.push(("AWS_REGION", "eu-west-1"));
        assert_eq!(env(&vars).unwrap().region, Region::new("eu-west-1"));
    }

    /// The service's endpoint variable wins over the global one; the ignore switch drops both.
    #[test]
    fn endpoints_follow_the_sdk_rules() {
        let mut vars = LAMBDA.to_vec();
        vars.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:4000"));
        let read = env(&vars).unwrap();
        assert_eq!(read.s3_endpoint.as_deref(), Some("http://127.0.0.1:4000"));
        assert_eq!(
            read.secrets_manager_endpoint.as_deref(),
            Some("http://127.0.0.1:4000")
        );
        vars.push(("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000"));
        let read = env(&vars).unwrap();
        assert_eq!(read.s3_endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            read.secrets_manager_endpoint.as_deref(),
            Some("http://127.0.0.1:4000")
        );
        vars.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        let read = env(&vars).unwrap();
        assert_eq!(
            (read.s3_endpoint, read.secrets_manager_endpoint),
            (None, None)
        );
    }
}
