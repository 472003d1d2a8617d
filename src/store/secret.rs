//! The redaction secret, read once at start from AWS Secrets Manager.
//!
//! The secret's bytes are the HMAC key: `SecretBinary` as stored, or `SecretString` as its
//! UTF-8 bytes (what CloudFormation's generated secrets hold). They are never logged: errors
//! name the secret's ARN and what went wrong, never its value.

use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

/// Why the secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("GetSecretValue {arn} failed: {}", DisplayErrorContext(.source))]
    Request {
        arn: String,
        #[source]
        source: Box<SdkError<GetSecretValueError>>,
    },
    #[error("the secret {arn} holds neither SecretBinary nor SecretString")]
    Empty { arn: String },
}

/// The bytes of the secret `arn`, read through `client`.
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<Vec<u8>, SecretError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|source| SecretError::Request {
            arn: arn.to_owned(),
            source: Box::new(source),
        })?;
    if let Some(binary) = output.secret_binary() {
        return Ok(binary.as_ref().to_vec());
    }
    match output.secret_string() {
        Some(text) => Ok(text.as_bytes().to_vec()),
        None => Err(SecretError::Empty {
            arn: arn.to_owned(),
        }),
    }
}

/// [`fetch`] with the auditor's configuration (`store::sdk_config`: profiles, SSO,
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER` for a local server).
pub async fn fetch_as_auditor(arn: &str) -> Result<Vec<u8>, SecretError> {
    let client = aws_sdk_secretsmanager::Client::new(&super::sdk_config().await);
    fetch(&client, arn).await
}
