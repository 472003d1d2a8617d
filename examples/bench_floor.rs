//! The benchmark's floor: the least JSON work any transform does. serde_json parses the event,
//! validating every byte, and each record is copied out as one raw line. `scripts/bench` times
//! `ddb-audit transform` beside it in the same run.
//!
//! usage: bench_floor EVENT.json

use std::io::{BufWriter, Write};

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bench_floor EVENT.json")?;
    let bytes = std::fs::read(path)?;
    let event: Event<'_> = serde_json::from_slice(&bytes)?;
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    for record in event.records {
        out.write_all(record.get().as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
