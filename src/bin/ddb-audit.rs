//! `ddb-audit`: the command-line tool. Parses arguments and hands them to the library.

use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ddb_audit::RenderOptions;
use ddb_audit::transform::{TransformError, transform};

/// Audit documents from DynamoDB Streams: what changed, attribute by attribute.
#[derive(Debug, Parser)]
#[command(name = "ddb-audit", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Transform { input, no_images } => run_transform(input, no_images),
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
