//! The Lambda function: sets up logging, reads the configuration, builds the S3 client
//! once, and hands every invocation to [`ddb_audit::function::handler`]. Nothing else
//! lives here.

use std::sync::Arc;

use aws_lambda_events::streams::DynamoDbEventResponse;
use ddb_audit::clock::{deadline_instant, now};
use ddb_audit::function::aws::LambdaEnv;
use ddb_audit::function::config::Config;
use ddb_audit::function::handler::{self, Settings};
use ddb_audit::redaction::Redactor;
use ddb_audit::store::{self, sink::S3Sink};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;
use tracing_subscriber::filter::{ParseError, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// One thread runs everything: the runtime client, the rendering and every S3 write.
///
/// Lambda gives the function a share of one vCPU in proportion to its memory (512 MB: about
/// 0.29 vCPU), so CPU per record bounds its throughput, and worker threads add none: only the
/// cost of handing each S3 answer from one thread to another. `scripts/bench-function`
/// measured record mode at 0.29-0.35 ms of CPU per record on tokio's multi-threaded runtime
/// (two workers) and 0.19-0.29 ms on this one, at the same records per second; batches of 100
/// and 1,000, a stub S3 answering after 20 ms.
fn main() -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let filter = match log_filter(std::env::var("RUST_LOG").ok().as_deref()) {
        Ok(filter) => filter,
        Err(error) => {
            eprintln!("ddb-audit-lambda: configuration error: {error}");
            std::process::exit(78);
        }
    };
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .with_current_span(false)
        .with_target(false)
        .finish()
        .with(filter)
        .init();

    let config = Config::from_env().unwrap_or_else(|error| stop(error.variable(), &error));
    tracing::info!(
        bucket = %config.bucket,
        prefix = %config.prefix,
        mode = ?config.mode,
        include_images = config.include_images,
        max_concurrency = config.max_concurrency,
        s3_attempt_timeout_ms = config.s3_timeouts.attempt.as_millis() as u64,
        s3_operation_timeout_ms = config.s3_timeouts.operation.as_millis() as u64,
        "starting"
    );
    let aws = LambdaEnv::from_env().unwrap_or_else(|error| stop(error.variable(), &error));
    let client = store::writer_client(aws.s3_config(), config.force_path_style, config.s3_timeouts);
    let sink = Arc::new(S3Sink::new(client, config.bucket.clone()));
    let mut settings = Settings::from(&config);
    settings.render.redaction = match redaction(&config, &aws).await {
        Ok(redaction) => redaction.map(Arc::new),
        Err(message) => stop("AUDIT_REDACT_SECRET_ARN", &message),
    };
    let function_name =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "ddb-audit-lambda".to_owned());

    // The event is taken raw: strict typed parsing would fail a whole batch for one odd
    // record, while the handler turns such a record into an error document.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let sink = Arc::clone(&sink);
        let settings = settings.clone();
        let function_name = function_name.clone();
        async move {
            // Boxed: the handler's future is deep, and the runtime's service nests it again.
            let response: DynamoDbEventResponse = Box::pin(handler::invoke(
                &sink,
                &settings,
                event.payload.get().as_bytes(),
                (now(), deadline_instant(event.context.deadline)),
                &function_name,
            ))
            .await?;
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}

/// The redaction the settings ask for, its secret read once here; a secret that cannot be
/// read, or is too short, stops the cold start (never a trail written in clear).
async fn redaction(config: &Config, aws: &LambdaEnv) -> Result<Option<Redactor>, String> {
    let Some(arn) = &config.redact_secret_arn else {
        return Ok(None);
    };
    let secret = store::secret::fetch(&aws.secrets_manager_client(), arn)
        .await
        .map_err(|e| format!("AUDIT_REDACT_SECRET_ARN: {e}"))?;
    let redactor = Redactor::new(config.redact.clone(), &secret)
        .map_err(|e| format!("AUDIT_REDACT_SECRET_ARN {arn}: {e}"))?;
    tracing::info!(
        key_id = redactor.key_id(),
        paths = config.redact.len(),
        "redaction on"
    );
    Ok(Some(redactor))
}

/// Stops the cold start on a bad setting, loudly (a log line naming the variable, the message on
/// stderr, exit status 78, sysexits' EX_CONFIG) rather than failing every batch later.
fn stop(variable: &'static str, error: &dyn std::fmt::Display) -> ! {
    tracing::error!(variable, "configuration error: {error}");
    eprintln!("ddb-audit-lambda: configuration error: {error}");
    std::process::exit(78);
}

/// `RUST_LOG`: a level (`info`, the default when unset or empty), or comma-separated
/// `target=level` directives (`warn,ddb_audit=debug`). A value that is neither stops the cold
/// start naming the variable: a typo must not silence the function's logs.
fn log_filter(value: Option<&str>) -> Result<Targets, String> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(Targets::new().with_default(tracing::Level::INFO)),
        Some(text) => text.parse().map_err(|e: ParseError| {
            format!(
                "RUST_LOG={text:?} is invalid: expected a level (error, warn, info, debug, \
                 trace) or comma-separated target=level directives ({e})"
            )
        }),
    }
}
