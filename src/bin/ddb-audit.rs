//! `ddb-audit`: the command-line tool. Parses arguments and hands them to the library
//! ([`ddb_audit::transform`], [`ddb_audit::auditor::command`]); every failure becomes one line on
//! stderr and a non-zero exit status, never a panic or a backtrace.

use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use std::sync::Arc;

use ddb_audit::RenderOptions;
use ddb_audit::auditor::caller::{self, TrailLocation};
use ddb_audit::auditor::changes::ChangesArgs;
use ddb_audit::auditor::command::{self, CommandError, ItemRef, Location};
use ddb_audit::function::config::Mode;
use ddb_audit::pattern::Pattern;
use ddb_audit::redaction::Redactor;
use ddb_audit::store::bucket::S3Bucket;
use ddb_audit::transform::{TransformError, transform};

/// Audit documents from DynamoDB Streams: what changed, attribute by attribute; and the
/// auditor's view of the trail in S3: one item's history, the item at a past time, and
/// whether the trail is intact.
#[derive(Debug, Parser)]
#[command(
    name = "ddb-audit",
    version,
    after_help = "S3 access follows the AWS SDK (credentials chain, AWS_REGION, AWS_ENDPOINT_URL_S3) and \
                  AUDIT_S3_FORCE_PATH_STYLE=true for local S3 servers, like the function.\n\
                  Exit status: 0 ok; 1 no answer (an error: the bucket, the key, the output); \
                  2 problems found (verify, history), an uncertain answer (replay) or input that is \
                  not an event (transform); 64 a usage error (an unknown flag, a missing argument)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct BucketArgs {
    /// The audit bucket (the function's AUDIT_BUCKET).
    #[arg(long)]
    bucket: String,
    /// The key prefix (the function's AUDIT_PREFIX).
    #[arg(long, default_value = "audit/")]
    prefix: String,
}

#[derive(Debug, Args)]
struct ItemArgs {
    #[command(flatten)]
    bucket: BucketArgs,
    /// The DynamoDB table name.
    #[arg(long)]
    table: String,
    /// The item's primary key, e.g. 'pk=ORDER#1,sk:N=7' (see --help).
    #[arg(long, long_help = ddb_audit::auditor::keyarg::SHORTHAND_HELP)]
    key: String,
    #[command(flatten)]
    redaction: RedactionArgs,
}

/// A redacting deployment's settings: `history` and `replay` find an item whose key
/// attributes are withheld; `recover` withholds what the function withholds, so a recovered
/// document is the one the function would have stored.
#[derive(Debug, Args)]
struct RedactionArgs {
    /// The function's AUDIT_REDACT (needs its secret, --redact-secret-arn).
    #[arg(
        long,
        env = "AUDIT_REDACT",
        value_name = "PATTERNS",
        requires = "redact_secret_arn"
    )]
    redact: Option<String>,
    /// The function's AUDIT_REDACT_SECRET_ARN: the secret keying the tokens.
    #[arg(long, env = "AUDIT_REDACT_SECRET_ARN", value_name = "ARN")]
    redact_secret_arn: Option<String>,
}

/// The partitions `history` and `replay` read in batch mode (record mode reads the item's prefix).
#[derive(Debug, Args)]
struct BatchWindowArgs {
    /// Batch mode: read the dt=/hour= partitions from this time (RFC 3339 or "now");
    /// default: the first partition. Record mode reads the item's whole prefix and ignores it.
    #[arg(long)]
    since: Option<String>,
    /// Batch mode: read the partitions up to this time; default: the last partition.
    #[arg(long)]
    until: Option<String>,
    /// Read the partitions even when they hold more than 10,000 objects.
    #[arg(long)]
    yes: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Turn a Lambda DynamoDB Streams event into audit documents (JSON Lines on stdout).
    ///
    /// Reads the event `{"Records": [...]}` that Lambda passes to the function (the files in
    /// events/ are examples) and writes one audit document per record, in record order, one per
    /// line. A record that cannot be read becomes an error document carrying the record
    /// verbatim; the others are unaffected, and the exit status is 0. Input that is not an
    /// event at all (not JSON, no "Records" array, unreadable file) writes nothing and exits 2.
    Transform {
        /// The event file; `-` or nothing reads standard input.
        input: Option<PathBuf>,
        /// Leave `old_image` and `new_image` out of the documents.
        #[arg(long)]
        no_images: bool,
        /// Withhold these attributes, as the function's AUDIT_REDACT does: comma-separated
        /// paths, e.g. '/email,/card/number,/contacts/*/phone' (`*` is any key or list index).
        #[arg(long, value_name = "PATTERNS", requires = "redact_secret_file")]
        redact: Option<String>,
        /// The redaction secret: a file holding its raw bytes (at least 32).
        #[arg(long, value_name = "FILE", requires = "redact")]
        redact_secret_file: Option<PathBuf>,
    },
    /// The token a redacting deployment stores for a value, to search the trail for it.
    ///
    /// Prints the typed token, as documents hold it, and its short form as `history` shows it.
    Token {
        /// The typed value, e.g. '{"S":"alice@example.com"}'.
        #[arg(long)]
        value: String,
        /// The deployment's AUDIT_REDACT_SECRET_ARN.
        #[arg(
            long,
            env = "AUDIT_REDACT_SECRET_ARN",
            value_name = "ARN",
            required_unless_present = "secret_file",
            conflicts_with = "secret_file"
        )]
        secret_arn: Option<String>,
        /// A file holding the secret's raw bytes instead (as `transform --redact-secret-file`).
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
    },
    /// Every change to one item, oldest first, as a readable timeline.
    History {
        #[command(flatten)]
        item: ItemArgs,
        #[command(flatten)]
        window: BatchWindowArgs,
        /// Print the audit documents as JSON Lines instead.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        trail: TrailArgs,
    },
    /// The item as it was at a time, rebuilt from its trail (typed DynamoDB JSON).
    Replay {
        #[command(flatten)]
        item: ItemArgs,
        #[command(flatten)]
        window: BatchWindowArgs,
        /// RFC 3339 time, e.g. 2026-11-27T14:00:00Z (or "now"). Records at exactly this time count.
        #[arg(long)]
        at: String,
        /// Print plain JSON (numbers exact, binary as base64, sets as arrays) instead of typed JSON.
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        trail: TrailArgs,
    },
    /// Every change to a table in a time window, across items, oldest first, one line each.
    ///
    /// Batch mode reads only the dt=/hour= partitions of the window. Record mode has no time
    /// in its keys, so it lists every item prefix of the table (or the one of --key) and reads
    /// every object: prefer batch mode for tables investigated by time, and Athena
    /// (docs/athena.md) beyond 10,000 objects. A progress line goes to stderr on a terminal.
    Changes {
        #[command(flatten)]
        bucket: BucketArgs,
        /// The DynamoDB table name.
        #[arg(long)]
        table: String,
        /// Start of the window, RFC 3339 (e.g. 2026-11-27T13:00:00Z) or "now"; included.
        #[arg(long)]
        since: String,
        /// End of the window, included; default: now.
        #[arg(long)]
        until: Option<String>,
        /// Keep documents with a change at or under this RFC 6901 path; `*` is any one
        /// segment (e.g. /status, /lines/*/qty).
        #[arg(long)]
        path: Option<String>,
        /// Keep documents with a change whose new value equals this typed value (numbers by
        /// value, sets as sets), e.g. '{"S":"CANCELLED"}'; with --path, at that path.
        #[arg(long)]
        value: Option<String>,
        /// Keep only INSERT, MODIFY or REMOVE.
        #[arg(long)]
        event: Option<String>,
        /// Keep only this item, e.g. 'pk=ORDER#1,sk:N=7' (see history --help).
        #[arg(long)]
        key: Option<String>,
        /// Print the matching audit documents as JSON Lines (the summary goes to stderr).
        #[arg(long)]
        json: bool,
        /// Read the window even when it holds more than 10,000 objects.
        #[arg(long)]
        yes: bool,
    },
    /// Checks every object under the prefix: schema, stored SHA-256, key, Object Lock, versions.
    Verify {
        #[command(flatten)]
        bucket: BucketArgs,
    },
    /// Writes the batches Lambda gave up on (the failure queue's messages) from the stream,
    /// exactly as the function would, and deletes each message once its range is stored.
    /// A range the stream no longer holds is reported and recorded under <prefix>gaps/.
    /// Exit status: 0 all recovered; 2 gaps found (recorded); 1 messages left in the queue.
    Recover {
        /// The failure queue's URL (the stack's FailureQueueUrl output).
        #[arg(long)]
        queue_url: String,
        #[command(flatten)]
        bucket: BucketArgs,
        /// The function's AUDIT_MODE.
        #[arg(long, default_value = "record", value_parser = ["record", "batch"])]
        mode: String,
        /// Leave `old_image` and `new_image` out (the function's AUDIT_INCLUDE_IMAGES=false).
        #[arg(long)]
        no_images: bool,
        #[command(flatten)]
        redaction: RedactionArgs,
    },
}

/// Where the callers come from: the CloudTrail trail's bucket (issue 10).
#[derive(Debug, Args)]
struct TrailArgs {
    /// The CloudTrail trail's bucket (the stack's TrailBucketName output): name each change's
    /// caller from the trail's DynamoDB data events.
    #[arg(long)]
    trail_bucket: Option<String>,
    /// The trail's S3 key prefix, if it has one (its files lie under PREFIX/AWSLogs/...).
    #[arg(long, default_value = "", requires = "trail_bucket")]
    trail_prefix: String,
    /// Minutes after a call that its log file may arrive and still be read (CloudTrail
    /// delivers in about 5).
    #[arg(long, default_value_t = 15, requires = "trail_bucket")]
    trail_delay: u32,
}

/// The trail bucket and where in it, when `--trail-bucket` was given.
async fn trail(args: &TrailArgs) -> Result<Option<(S3Bucket, TrailLocation)>, CommandError> {
    let Some(name) = &args.trail_bucket else {
        return Ok(None);
    };
    let bucket = S3Bucket::from_env(name).await?;
    Ok(Some((
        bucket,
        TrailLocation::new(&args.trail_prefix, args.trail_delay),
    )))
}

/// A progress line for reading the trail, redrawn in place, only on a terminal.
fn trail_progress() -> impl FnMut(usize, usize) {
    let terminal = std::io::stderr().is_terminal();
    move |done, total| {
        if terminal {
            let end = if done == total { "\r\x1b[K" } else { "" };
            eprint!("\rddb-audit: reading CloudTrail files {done}/{total}{end}");
        }
    }
}

fn location(args: &BucketArgs) -> Location {
    Location::new(&args.bucket, &args.prefix)
}

/// The location of an item command, with its batch-mode window.
fn batch_location(args: &BucketArgs, window: &BatchWindowArgs) -> Result<Location, CommandError> {
    use ddb_audit::auditor::window::{Window, parse_time};
    let now = ddb_audit::clock::now();
    let since = window
        .since
        .as_deref()
        .map(|t| parse_time("--since", t, now))
        .transpose()?;
    let until = window
        .until
        .as_deref()
        .map(|t| parse_time("--until", t, now))
        .transpose()?;
    let window_of = match (since, until) {
        (None, None) => None,
        (since, until) => Some(Window::new(
            since.unwrap_or(ddb_audit::Timestamp { unix_millis: 0 }),
            until.unwrap_or(now),
        )?),
    };
    let mut at = location(args).within(window_of);
    if window.yes {
        at.max_objects = None;
    }
    Ok(at)
}

async fn item(args: &ItemArgs) -> Result<ItemRef, CommandError> {
    let redaction = match (&args.redaction.redact, &args.redaction.redact_secret_arn) {
        (Some(patterns), Some(arn)) => Some(Arc::new(cli_redactor(patterns, arn).await?)),
        _ => None,
    };
    Ok(ItemRef {
        table: args.table.clone(),
        key: args.key.clone(),
        redaction,
    })
}

/// The deployment's redactor, its secret read from Secrets Manager.
async fn cli_redactor(patterns: &str, arn: &str) -> Result<Redactor, CommandError> {
    let patterns = Pattern::parse_list(patterns)
        .map_err(|e| CommandError::Setting(format!("--redact: {e}")))?;
    let secret = ddb_audit::store::secret::fetch_as_auditor(arn)
        .await
        .map_err(|e| CommandError::Setting(format!("--redact-secret-arn: {e}")))?;
    Redactor::new(patterns, &secret)
        .map_err(|e| CommandError::Setting(format!("--redact-secret-arn {arn}: {e}")))
}

async fn run(cli: Cli) -> Result<i32, CommandError> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match &cli.command {
        Command::History {
            item: args,
            window,
            json,
            trail: trail_args,
        } => {
            let at = batch_location(&args.bucket, window)?;
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            let item = item(args).await?;
            if let Some((trail, trail_at)) = trail(trail_args).await? {
                return caller::history(
                    &bucket,
                    &trail,
                    &at,
                    &trail_at,
                    &item,
                    *json,
                    ddb_audit::clock::now(),
                    trail_progress(),
                    &mut out,
                    &mut err,
                )
                .await;
            }
            command::history(&bucket, &at, &item, *json, &mut out, &mut err).await
        }
        Command::Replay {
            item: args,
            window,
            at,
            plain,
            trail: trail_args,
        } => {
            let time = command::parse_at(at, ddb_audit::clock::now())?;
            let location = batch_location(&args.bucket, window)?;
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            let item = item(args).await?;
            if let Some((trail, trail_at)) = trail(trail_args).await? {
                return caller::replay(
                    &bucket,
                    &trail,
                    &location,
                    &trail_at,
                    &item,
                    time,
                    *plain,
                    ddb_audit::clock::now(),
                    trail_progress(),
                    &mut out,
                    &mut err,
                )
                .await;
            }
            command::replay(&bucket, &location, &item, time, *plain, &mut out, &mut err).await
        }
        Command::Changes {
            bucket: args,
            table,
            since,
            until,
            path,
            value,
            event,
            key,
            json,
            yes,
        } => {
            let changes = ChangesArgs {
                table: table.clone(),
                since: since.clone(),
                until: until.clone(),
                path: path.clone(),
                value: value.clone(),
                event: event.clone(),
                key: key.clone(),
                json: *json,
                yes: *yes,
            };
            // Parsed before the client is built, so a bad flag costs no request.
            let now = ddb_audit::clock::now();
            ddb_audit::auditor::changes::Query::parse(&changes, now)?;
            let bucket = S3Bucket::from_env(&args.bucket).await?;
            let progress = io::stderr().is_terminal().then(io::stderr);
            ddb_audit::auditor::changes::run(
                &bucket,
                &location(args),
                &changes,
                now,
                progress,
                &mut out,
                &mut err,
            )
            .await
        }
        Command::Verify { bucket: args } => {
            let bucket = S3Bucket::from_env(&args.bucket).await?;
            command::verify(&bucket, &location(args), &mut out, &mut err).await
        }
        Command::Token {
            value,
            secret_arn,
            secret_file,
        } => {
            let secret = match (secret_arn, secret_file) {
                (_, Some(file)) => std::fs::read(file).map_err(|e| {
                    CommandError::Setting(format!(
                        "--secret-file: cannot read {}: {e}",
                        file.display()
                    ))
                })?,
                (Some(arn), None) => ddb_audit::store::secret::fetch_as_auditor(arn)
                    .await
                    .map_err(|e| CommandError::Setting(format!("--secret-arn: {e}")))?,
                (None, None) => unreachable!("clap requires one"),
            };
            let redactor = Redactor::new(Vec::new(), &secret)
                .map_err(|e| CommandError::Setting(format!("the secret: {e}")))?;
            let typed: ddb_audit::AttributeValue<'_> =
                serde_json::from_str(value).map_err(|e| {
                    CommandError::Setting(format!(
                        "--value: not a typed value such as {{\"S\":\"x\"}}: {e}"
                    ))
                })?;
            let token = redactor
                .token(&typed)
                .map_err(|e| CommandError::Setting(format!("--value: {e}")))?;
            let shown = ddb_audit::auditor::timeline::redacted(&token);
            let json = serde_json::to_string(&ddb_audit::AttributeValue::Redacted(token))
                .expect("a token serializes");
            writeln!(out, "{json}")?;
            writeln!(out, "{shown}  (key id {})", redactor.key_id())?;
            Ok(0)
        }
        Command::Transform { .. } => unreachable!("transform runs without a runtime"),
        Command::Recover { .. } => unreachable!("recover has its own errors"),
    }
}

/// `recover`, on the runtime: its report on stdout, progress on stderr when a terminal.
async fn run_recover(
    queue_url: &str,
    args: &BucketArgs,
    mode: &str,
    render: RenderOptions,
) -> Result<i32, ddb_audit::recovery::run::RecoverError> {
    let mode = if mode == "batch" {
        Mode::Batch
    } else {
        Mode::Record
    };
    let mut stderr = io::stderr();
    let mut progress: Option<&mut dyn Write> = if stderr.is_terminal() {
        Some(&mut stderr)
    } else {
        None
    };
    let summary = ddb_audit::recovery::run::command(
        queue_url,
        &args.bucket,
        &args.prefix,
        mode,
        render,
        &mut io::stdout().lock(),
        &mut progress,
    )
    .await?;
    Ok(summary.exit_status())
}

/// Exit status of a usage error (sysexits' EX_USAGE): distinct from 2, which a scheduled
/// `verify` reports for tampering, so a typo in a flag never reads as a finding.
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are answers, not errors.
            let status = if error.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = error.print();
            return ExitCode::from(status);
        }
    };
    if let Command::Transform {
        input,
        no_images,
        redact,
        redact_secret_file,
    } = cli.command
    {
        let redaction = match (redact, redact_secret_file) {
            (Some(patterns), Some(file)) => match redactor(&patterns, &file) {
                Ok(redactor) => Some(Arc::new(redactor)),
                Err(message) => {
                    eprintln!("ddb-audit: {message}");
                    return ExitCode::from(EXIT_USAGE);
                }
            },
            _ => None,
        };
        let options = RenderOptions {
            include_images: !no_images,
            redaction,
        };
        return run_transform(input, &options);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ddb-audit: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Recover {
        queue_url,
        bucket,
        mode,
        no_images,
        redaction,
    } = &cli.command
    {
        let redaction = match (&redaction.redact, &redaction.redact_secret_arn) {
            (Some(patterns), Some(arn)) => match runtime.block_on(cli_redactor(patterns, arn)) {
                Ok(redactor) => Some(Arc::new(redactor)),
                Err(e) => {
                    eprintln!("ddb-audit: {e}");
                    return ExitCode::FAILURE;
                }
            },
            _ => None,
        };
        let options = RenderOptions {
            include_images: !no_images,
            redaction,
        };
        return match runtime.block_on(run_recover(queue_url, bucket, mode, options)) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => {
                eprintln!(
                    "ddb-audit: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                );
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(run(cli)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // A reader that stops early (`| head`) is not an error worth a message.
        Err(CommandError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ddb-audit: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The redaction `--redact` and `--redact-secret-file` ask for, or what is wrong with them.
fn redactor(patterns: &str, secret_file: &PathBuf) -> Result<Redactor, String> {
    let patterns = Pattern::parse_list(patterns).map_err(|e| format!("--redact: {e}"))?;
    if patterns.is_empty() {
        return Err("--redact: name at least one path, e.g. /email".to_owned());
    }
    let secret = std::fs::read(secret_file).map_err(|e| {
        format!(
            "--redact-secret-file: cannot read {}: {e}",
            secret_file.display()
        )
    })?;
    Redactor::new(patterns, &secret).map_err(|e| format!("--redact-secret-file: {e}"))
}

fn run_transform(input: Option<PathBuf>, options: &RenderOptions) -> ExitCode {
    let event = match read_input(input.as_ref()) {
        Ok(bytes) => bytes,
        Err(message) => return fail(&message),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = transform(&event, options, &mut out).and_then(|stats| {
        out.flush().map_err(TransformError::Output)?;
        Ok(stats)
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not an error worth a message.
        Err(TransformError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        // The event was fine; writing failed (a full disk): an error, not "not an event".
        Err(e @ TransformError::Output(_)) => {
            eprintln!("ddb-audit: {e}");
            ExitCode::FAILURE
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn read_input(input: Option<&PathBuf>) -> Result<Vec<u8>, String> {
    match input {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        _ => {
            let mut stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "ddb-audit: reading the event from standard input (end with Ctrl-D; or pass a file, e.g. events/modify.json)"
                );
            }
            let mut bytes = Vec::new();
            stdin
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(bytes)
        }
    }
}

/// One line on stderr and exit status 2: the input was not an event.
fn fail(message: &str) -> ExitCode {
    eprintln!("ddb-audit: {message}");
    ExitCode::from(2)
}
