"""Runs the Athena queries of docs/athena.md, exactly as written there, on DuckDB.

- `queries()` reads the named ```sql blocks of docs/athena.md (`<!-- query: NAME -->` above each).
- `TRANSLATION` is the one table of what Athena (Trino) and DuckDB spell differently, applied
  by `translate()`; nothing else is changed in a query.
- `connect(root)` opens DuckDB with views `documents` and `records` standing in for the Glue
  tables of template.yaml, over a directory that mirrors the bucket's keys (`root/<key>`),
  with the Glue columns' types and the partition columns cut from each file's path.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "athena.md"

# Athena spelling -> DuckDB spelling. Keep it to what the documented queries use: a test
# checks that every entry is needed by some query.
TRANSLATION: list[tuple[str, str]] = [
    ("json_extract_scalar(", "json_extract_string("),
]

_QUERY = re.compile(r"<!-- query: ([a-z-]+) -->\s*```sql\n(.*?)```", re.S)

# The Glue columns (template.yaml), in DuckDB's types: typed DynamoDB values stay JSON text.
_COLUMNS = {
    "schema": "VARCHAR",
    "event_id": "VARCHAR",
    "event_name": "VARCHAR",
    "table": "VARCHAR",
    "source": "STRUCT(stream_arn VARCHAR, region VARCHAR, account VARCHAR, sequence_number VARCHAR, "
              "approximate_creation_time VARCHAR, size_bytes BIGINT, stream_view_type VARCHAR, "
              "event_version VARCHAR)",
    "key": "VARCHAR",
    "user_identity": "STRUCT(type VARCHAR, principalid VARCHAR)",
    "ttl_expiry": "BOOLEAN",
    "complete": "BOOLEAN",
    "changes": "STRUCT(op VARCHAR, path VARCHAR, old VARCHAR, new VARCHAR, added VARCHAR, removed VARCHAR)[]",
    "old_image": "VARCHAR",
    "new_image": "VARCHAR",
    "error": "STRUCT(message VARCHAR)",
    "raw": "VARCHAR",
}


def queries() -> dict[str, str]:
    """The documented queries by name, exactly as docs/athena.md writes them."""
    return dict(_QUERY.findall(DOC.read_text(encoding="utf-8")))


def translate(athena_sql: str) -> str:
    """The query in DuckDB's spelling: only TRANSLATION's entries are replaced."""
    for athena, duck in TRANSLATION:
        athena_sql = athena_sql.replace(athena, duck)
    return athena_sql


def _view(con, name: str, glob: str, partitions: dict[str, str]) -> None:
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in _COLUMNS.items()) + "}"
    derived = ", ".join(f"{expr} AS {col}" for col, expr in partitions.items())
    con.execute(
        f"CREATE VIEW {name} AS SELECT * EXCLUDE (filename), {derived} FROM read_json("
        f"'{glob}', format='newline_delimited', filename=true, hive_partitioning=false, "
        f"columns={columns})"
    )


def connect(root: Path, prefix_batch: str, prefix_record: str):
    """DuckDB with `documents` over root/<prefix_batch>table=*/dt=*/hour=*/*.jsonl.gz and
    `records` over root/<prefix_record>table=*/item=*/*.json."""
    con = duckdb.connect()
    tbl = r"regexp_extract(filename, '/table=([^/]+)/', 1)"
    _view(con, "documents", f"{root}/{prefix_batch}table=*/dt=*/hour=*/*.jsonl.gz", {
        "tbl": tbl,
        "dt": r"regexp_extract(filename, '/dt=([^/]+)/', 1)",
        "hour": r"CAST(regexp_extract(filename, '/hour=([0-9]+)/', 1) AS INTEGER)",
    })
    _view(con, "records", f"{root}/{prefix_record}table=*/item=*/*.json", {
        "tbl": tbl,
        "item": r"regexp_extract(filename, '/item=([^/]+)/', 1)",
    })
    return con


def run(con, name: str, params: list) -> list[tuple]:
    """Runs documented query `name`, translated, with `params`; returns its rows."""
    return con.execute(translate(queries()[name]), params).fetchall()
