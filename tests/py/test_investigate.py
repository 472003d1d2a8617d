"""Investigations on both layouts, and Athena's SQL proven on DuckDB (issue 11).

One real (moto) DynamoDB stream from scripts/workload.py is delivered, batch by batch, to the
function in record mode (AUDIT_PREFIX=record/) and then in batch mode (AUDIT_PREFIX=batch/),
into one Object Lock bucket. Then:

- `history` of every item, `replay --at` every phase boundary of every item, and `changes`
  over several windows and filters print the same thing from both prefixes (the summary line
  of `changes`, which counts what each layout had to read, aside);
- the five queries of docs/athena.md, taken from the file as written (translated only by
  tests/py/athena_sql.py's table), run on DuckDB over a copy of the objects the two
  functions wrote, and give the CLI's answers.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import athena_sql  # noqa: E402
import workload  # noqa: E402
from conftest import LambdaWatch, boto_client, make_audit_bucket, tools_env  # noqa: E402
from test_end_to_end import norm_item  # noqa: E402

TABLE = f"Inv-{uuid.uuid4().hex[:8]}"
LAYOUTS = {"record": "record/", "batch": "batch/"}
EARLY = "2000-01-01T00:00:00.000Z"


class Cli:
    def __init__(self, binary: Path, endpoint: str, bucket: str):
        self.binary, self.bucket = binary, bucket
        self.env = tools_env(AWS_ENDPOINT_URL_S3=endpoint, AUDIT_S3_FORCE_PATH_STYLE="true")

    def run(self, layout: str, *args: str):
        import subprocess

        cmd = [str(self.binary), *args, "--bucket", self.bucket, "--prefix", LAYOUTS[layout]]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=300)

    def both(self, *args: str):
        """The command on both layouts: (record result, batch result)."""
        return self.run("record", *args), self.run("batch", *args)


@pytest.fixture(scope="module")
def scenario(moto_endpoint, lambda_binary, ddb_audit_bin, tmp_path_factory):
    dynamodb = boto_client("dynamodb", moto_endpoint)
    streams = boto_client("dynamodbstreams", moto_endpoint)
    s3 = boto_client("s3", moto_endpoint)
    bucket = make_audit_bucket(s3)
    stream_arn = workload.create_table(dynamodb, TABLE)
    work = workload.run(dynamodb, TABLE, items=24, writes=360, phases=4, seed=11)
    records = workload.read_stream(streams, stream_arn)
    events = workload.lambda_events(records, stream_arn, batch=100)
    watch = LambdaWatch(moto_endpoint, tmp_path_factory.mktemp("watch"))
    try:
        for mode, prefix in LAYOUTS.items():
            watch.set_env(AUDIT_BUCKET=bucket, AUDIT_MODE=mode, AUDIT_PREFIX=prefix)
            for event in events:
                assert watch.invoke(event).get("batchItemFailures", []) == [], mode
    finally:
        watch.stop()
    # A copy of the bucket's objects, at paths that mirror their keys, for DuckDB.
    mirror = tmp_path_factory.mktemp("objects")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            path = mirror / obj["Key"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    times = sorted(r["dynamodb"]["ApproximateCreationDateTime"] for r in records)
    return {
        "work": work, "records": records, "mirror": mirror,
        "cli": Cli(ddb_audit_bin, moto_endpoint, bucket),
        "first": workload.rfc3339(times[0]), "last": workload.rfc3339(times[-1]),
    }


def body(stdout: str) -> str:
    """`changes` output without its summary line."""
    return "".join(stdout.splitlines(keepends=True)[:-1])


def test_the_stream_reached_both_layouts(scenario):
    """Both functions wrote every record: record mode one object each, batch mode in partitions."""
    mirror, n = scenario["mirror"], len(scenario["records"])
    assert len(list((mirror / "record").rglob("*.json"))) == n
    lines = sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in (mirror / "batch").rglob("*.jsonl.gz"))
    assert lines == n


def test_history_is_the_same_on_both_layouts(scenario):
    """Every item's history prints the same from both layouts (text and --json)."""
    cli, keys = scenario["cli"], scenario["work"].keys

    def one(key):
        args = ("history", "--table", TABLE, "--key", json.dumps(key))
        return cli.both(*args), cli.both(*args, "--json")

    with ThreadPoolExecutor(4) as pool:
        for key, ((rec, bat), (rec_json, bat_json)) in zip(keys, pool.map(one, keys)):
            if rec.returncode == 1:  # an item the workload never wrote: both say so
                assert bat.returncode == 1, key
                continue
            assert (rec.returncode, rec.stdout) == (0, bat.stdout) and bat.returncode == 0, key
            assert rec_json.stdout == bat_json.stdout and rec_json.stdout, key


def test_replay_is_the_same_on_both_layouts(scenario):
    """At every phase boundary, every item replays to the same output, notes and status."""
    cli, work = scenario["cli"], scenario["work"]
    jobs = [(b.at, k) for b in work.boundaries for k in work.keys]

    def one(job):
        at, key = job
        return cli.both("replay", "--table", TABLE, "--key", json.dumps(key), "--at", at)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, jobs))
    # An item absent from the stream is refused by both (each naming where it looked); a
    # doubt names the object holding the record, which is the layout's own.
    differ = [(job, r.returncode, r.stderr, b.stderr) for job, (r, b) in zip(jobs, results)
              if (r.returncode, r.stdout, objects(r.stderr)) != (b.returncode, b.stdout, objects(b.stderr))
              and not (r.returncode == 1 == b.returncode)]
    assert differ == []
    # And they are right: equal to the states the workload recorded.
    doubts = [(job, rec.stderr) for job, (rec, _) in zip(jobs, results) if rec.returncode == 2]
    print(f"replays with doubts (both layouts alike): {doubts}")
    for (at, key), (rec, _) in zip(jobs, results):
        boundary = next(b for b in work.boundaries if b.at == at)
        if rec.returncode == 0:
            assert norm_item(json.loads(rec.stdout)) == norm_item(boundary.states[workload.key_id(key)])


def objects(text: str) -> str:
    """`text` with object keys of either layout replaced by `<object>`."""
    return re.sub(r"(record|batch)/\S+?\.(json|jsonl\.gz)", "<object>", text)


def windows(scenario) -> list[tuple[str, str]]:
    ats = [b.at for b in scenario["work"].boundaries]
    return [(EARLY, ats[0]), (ats[0], ats[1]), (ats[1], ats[-1]), (scenario["first"], scenario["last"])]


FILTERS = [
    [],
    ["--path", "/status", "--value", '{"S":"SHIPPED"}'],
    ["--path", "/lines/*/qty"],
    ["--event", "REMOVE"],
    ["--key", json.dumps({"pk": {"S": "ORDER#001"}, "sk": {"N": "1"}})],
]


def test_changes_are_the_same_on_both_layouts(scenario):
    """`changes` over several windows and filters prints the same from both layouts, and the
    widest window holds every record exactly once."""
    cli = scenario["cli"]
    jobs = [(w, f) for w in windows(scenario) for f in FILTERS]

    def one(job):
        (since, until), extra = job
        return cli.both("changes", "--table", TABLE, "--since", since, "--until", until, *extra)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, jobs))
    for job, (rec, bat) in zip(jobs, results):
        assert rec.returncode == 0 and bat.returncode == 0, (job, rec.stderr, bat.stderr)
        assert body(rec.stdout) == body(bat.stdout), job
    assert sum(1 for (r, _) in results if body(r.stdout)) >= len(jobs) // 2, "the windows are not empty"
    rec, bat = cli.both("changes", "--table", TABLE, "--since", EARLY, "--json")
    ids = [json.loads(line)["event_id"] for line in rec.stdout.splitlines()]
    assert sorted(ids) == sorted(r["eventID"] for r in scenario["records"])
    assert rec.stdout == bat.stdout


# --- Athena's SQL on DuckDB ------------------------------------------------------------------


def test_translation_table_is_small_and_needed():
    """The five documented queries are found; every translation entry is needed by one of them,
    and after translation no Athena-only spelling is left."""
    qs = athena_sql.queries()
    assert set(qs) == {"item-history", "window", "set-to", "latest-state", "per-hour"}
    for athena, duck in athena_sql.TRANSLATION:
        assert any(athena in q for q in qs.values()), athena
        assert all(athena not in athena_sql.translate(q) for q in qs.values())
    assert athena_sql.translate("json_extract_scalar(key, '$.pk.S')") == "json_extract_string(key, '$.pk.S')"


def cli_docs(cli, layout: str, *args: str) -> list[dict]:
    out = cli.run(layout, "changes", "--table", TABLE, *args, "--json")
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_athena_queries_on_duckdb_give_the_clis_answers(scenario):
    """Each query of docs/athena.md, as written, on DuckDB over the objects both functions wrote,
    equals what the CLI answers."""
    cli, mirror = scenario["cli"], scenario["mirror"]
    con = athena_sql.connect(mirror, LAYOUTS["batch"], LAYOUTS["record"])
    since, until = windows(scenario)[1]
    days = [since[:10], until[:10]]

    # One item's history, from the records table (its item= partition only).
    segments = {}
    for path in (mirror / "record").rglob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        segments[workload.key_id(doc["key"])] = path.parent.name.removeprefix("item=")
    for key in scenario["work"].keys[:6] + scenario["work"].keys[-3:]:
        if workload.key_id(key) not in segments:
            continue
        rows = athena_sql.run(con, "item-history", [TABLE, segments[workload.key_id(key)]])
        out = cli.run("record", "history", "--table", TABLE, "--key", json.dumps(key), "--json")
        assert [r[2] for r in rows] == [json.loads(l)["event_id"] for l in out.stdout.splitlines()], key

    # Everything in a window, in the same order.
    rows = athena_sql.run(con, "window", [TABLE, *days, since, until])
    docs = cli_docs(cli, "batch", "--since", since, "--until", until)
    assert [r[3] for r in rows] == [d["event_id"] for d in docs] and rows

    # Which items had /status set to SHIPPED in the window.
    rows = athena_sql.run(con, "set-to", [TABLE, *days, since, until, "/status", "SHIPPED"])
    docs = cli_docs(cli, "record", "--since", since, "--until", until,
                    "--path", "/status", "--value", '{"S":"SHIPPED"}')
    assert {workload.key_id(json.loads(r[0])) for r in rows} == {workload.key_id(d["key"]) for d in docs}
    assert rows

    # The latest state of each item changed in the window = replay at the window's end.
    rows = athena_sql.run(con, "latest-state", [TABLE, *days, since, until])
    changed = {workload.key_id(d["key"]) for d in cli_docs(cli, "record", "--since", since, "--until", until)}
    assert {workload.key_id(json.loads(r[0])) for r in rows} == changed
    for key_text, event_name, new_image, _ in rows:
        out = cli.run("record", "replay", "--table", TABLE, "--key", key_text, "--at", until)
        replayed = json.loads(out.stdout)
        assert (event_name == "REMOVE") == (replayed is None) == (new_image is None), key_text
        assert norm_item(replayed) == norm_item(json.loads(new_image) if new_image else None), key_text

    # Records per hour over the days of the stream.
    first, last = scenario["first"][:10], scenario["last"][:10]
    rows = athena_sql.run(con, "per-hour", [TABLE, first, last])
    docs = cli_docs(cli, "batch", "--since", f"{first}T00:00:00Z", "--until", f"{last}T23:59:59.999Z")
    counted = Counter((d["source"]["approximate_creation_time"][:10],
                       int(d["source"]["approximate_creation_time"][11:13])) for d in docs)
    assert rows == sorted((dt, hour, n) for (dt, hour), n in counted.items())
