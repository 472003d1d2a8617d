//! `ddb-audit`: the command-line tool. Parses arguments and hands them to the library
//! ([`ddb_audit::transform`], [`ddb_audit::auditor::command`]); every failure becomes one line on
//! stderr and a non-zero exit status, never a panic or a backtrace.

use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ddb_audit::RenderOptions;
use ddb_audit::auditor::command::{self, CommandError, ItemRef, Location};
use ddb_audit::function::config::Mode;
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
    },
    /// Every change to one item, oldest first, as a readable timeline.
    History {
        #[command(flatten)]
        item: ItemArgs,
        /// Print the audit documents as JSON Lines instead.
        #[arg(long)]
        json: bool,
    },
    /// The item as it was at a time, rebuilt from its trail (typed DynamoDB JSON).
    Replay {
        #[command(flatten)]
        item: ItemArgs,
        /// RFC 3339 time, e.g. 2026-11-27T14:00:00Z (or "now"). Records at exactly this time count.
        #[arg(long)]
        at: String,
        /// Print plain JSON (numbers exact, binary as base64, sets as arrays) instead of typed JSON.
        #[arg(long)]
        plain: bool,
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
    },
}

fn location(args: &BucketArgs) -> Location {
    Location::new(&args.bucket, &args.prefix)
}

fn item(args: &ItemArgs) -> ItemRef {
    ItemRef {
        table: args.table.clone(),
        key: args.key.clone(),
    }
}

async fn run(cli: Cli) -> Result<i32, CommandError> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match &cli.command {
        Command::History { item: args, json } => {
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            command::history(
                &bucket,
                &location(&args.bucket),
                &item(args),
                *json,
                &mut out,
                &mut err,
            )
            .await
        }
        Command::Replay {
            item: args,
            at,
            plain,
        } => {
            let time = command::parse_at(at, ddb_audit::clock::now())?;
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            command::replay(
                &bucket,
                &location(&args.bucket),
                &item(args),
                time,
                *plain,
                &mut out,
                &mut err,
            )
            .await
        }
        Command::Verify { bucket: args } => {
            let bucket = S3Bucket::from_env(&args.bucket).await?;
            command::verify(&bucket, &location(args), &mut out, &mut err).await
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
    no_images: bool,
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
        !no_images,
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
    if let Command::Transform { input, no_images } = cli.command {
        return run_transform(input, no_images);
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
    } = &cli.command
    {
        return match runtime.block_on(run_recover(queue_url, bucket, mode, *no_images)) {
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

fn run_transform(input: Option<PathBuf>, no_images: bool) -> ExitCode {
    let event = match read_input(input.as_ref()) {
        Ok(bytes) => bytes,
        Err(message) => return fail(&message),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let options = RenderOptions {
        include_images: !no_images,
    };
    let result = transform(&event, &options, &mut out).and_then(|stats| {
        out.flush().map_err(TransformError::Output)?;
        Ok(stats)
    });
    match result {
        Ok(_) => ExitCode::SUCCESS,
        // A reader that stops early (`| head`) is not an error worth a message.
        Err(TransformError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
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
