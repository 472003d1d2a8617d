//! `ddb-audit`: the command-line tool. Parses arguments and hands them to the library
//! ([`ddb_audit::transform`], [`ddb_audit::auditor::command`]); every failure becomes one line on
//! stderr and a non-zero exit status, never a panic or a backtrace.

use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ddb_audit::RenderOptions;
use ddb_audit::auditor::changes::ChangesArgs;
use ddb_audit::auditor::command::{self, CommandError, ItemRef, Location};
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
                  Exit status: 0 ok; 1 error; 2 problems found (verify, history), an uncertain answer (replay) \
                  or input that is not an event (transform)."
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

fn item(args: &ItemArgs) -> ItemRef {
    ItemRef {
        table: args.table.clone(),
        key: args.key.clone(),
    }
}

async fn run(cli: Cli) -> Result<i32, CommandError> {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr());
    match &cli.command {
        Command::History {
            item: args,
            window,
            json,
        } => {
            let at = batch_location(&args.bucket, window)?;
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            command::history(&bucket, &at, &item(args), *json, &mut out, &mut err).await
        }
        Command::Replay {
            item: args,
            window,
            at,
            plain,
        } => {
            let time = command::parse_at(at, ddb_audit::clock::now())?;
            let location = batch_location(&args.bucket, window)?;
            let bucket = S3Bucket::from_env(&args.bucket.bucket).await?;
            command::replay(
                &bucket,
                &location,
                &item(args),
                time,
                *plain,
                &mut out,
                &mut err,
            )
            .await
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
        Command::Transform { .. } => unreachable!("transform runs without a runtime"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            let mut bytes = Vec::new();
            io::stdin()
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
