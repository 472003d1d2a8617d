"""The end-to-end proof: a real (moto) stream, the real function, the real CLI.

Against moto server (fixtures from conftest.py): a table with a NEW_AND_OLD_IMAGES stream
takes the scripted workload of scripts/workload.py (520 writes over 32 items in 4 phases: puts, nested
map updates, list appends and removals, SS/NS/BS ADD and DELETE, 38-digit numbers, binary,
deletes and re-creations), recording each item's state after every write and at phase
boundaries. The stream is read with DescribeStream + GetShardIterator(TRIM_HORIZON) +
GetRecords over all shards, wrapped into Lambda events as Lambda does (eventSourceARN
added) in batches of 100, and delivered through `cargo lambda watch` / invoke, one batch
twice. Then:

- exactly one audit document per stream record, none duplicated (every object version is
  listed: one version per key, one key per record);
- for every item, `ddb-audit replay --at <now>` equals the item a Scan returns, and at each
  phase boundary equals the state the workload recorded then;
- `ddb-audit verify` passes, and fails, naming the object, after one object is overwritten
  and another deleted behind the function's back.

Phase boundaries: the stream stamps records with the server's clock. moto gives
milliseconds; DynamoDB may give whole seconds. The workload ends each phase, then waits
until just past the next whole second before starting the next, and the boundary is the
last millisecond before that second (see workload._wait_for_boundary). So every record of
phase k has a time <= boundary k, every later one > boundary k, even with whole-second
stamps, and replaying at boundary k must give exactly the states recorded at its end.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import workload  # noqa: E402
from conftest import LambdaWatch, boto_client, make_audit_bucket, tools_env  # noqa: E402

# A table of its own: the moto server is shared by the whole session.
TABLE = f"Orders-{uuid.uuid4().hex[:8]}"
PREFIX = "audit/"  # the function's default AUDIT_PREFIX
BATCH = 100


# --- comparing typed values with DynamoDB's equality (numbers by value, sets as sets) -------------

def binary(value: str | bytes) -> bytes:
    """boto3 gives binary as bytes; the CLI's typed JSON gives it as base64 text."""
    return value if isinstance(value, bytes) else base64.b64decode(value, validate=True)


def norm(typed: dict):
    (kind, value), = typed.items()
    if kind == "N":
        return ("N", Decimal(value))
    if kind == "NS":
        return ("NS", frozenset(Decimal(v) for v in value))
    if kind == "SS":
        return ("SS", frozenset(value))
    if kind == "B":
        return ("B", binary(value))
    if kind == "BS":
        return ("BS", frozenset(binary(v) for v in value))
    if kind == "L":
        return ("L", tuple(norm(v) for v in value))
    if kind == "M":
        return ("M", norm_item(value))
    return (kind, value)


def norm_item(item: dict | None):
    if item is None:
        return None
    return tuple(sorted((name, norm(v)) for name, v in item.items()))


# --- the CLI -----------------------------------------------------------------------------------

class Cli:
    def __init__(self, binary: Path, endpoint: str, bucket: str, prefix: str):
        self.binary, self.bucket, self.prefix = binary, bucket, prefix
        self.env = tools_env(AWS_ENDPOINT_URL_S3=endpoint, AUDIT_S3_FORCE_PATH_STYLE="true")

    def run(self, *args: str, bucket: str | None = None) -> subprocess.CompletedProcess:
        cmd = [str(self.binary), *args, "--bucket", bucket or self.bucket, "--prefix", self.prefix]
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)

    def replay(self, key: dict, at: str) -> tuple[dict | None, subprocess.CompletedProcess]:
        out = self.run("replay", "--table", TABLE, "--key", json.dumps(key), "--at", at)
        assert out.returncode == 0, f"replay {key} at {at}: exit {out.returncode}\n{out.stderr}"
        return json.loads(out.stdout), out


# --- the scenario: workload, stream, delivery (once per module) ---------------------------------

@pytest.fixture(scope="module")
def scenario(moto_endpoint, lambda_binary, ddb_audit_bin, tmp_path_factory):
    """Runs once for the module: the conftest's per-test fixtures are function-scoped, so this
    builds the same things from the conftest's helpers, and stops the function at the end."""
    started = time.monotonic()
    dynamodb = boto_client("dynamodb", moto_endpoint)
    streams = boto_client("dynamodbstreams", moto_endpoint)
    bucket = make_audit_bucket(boto_client("s3", moto_endpoint))
    stream_arn = workload.create_table(dynamodb, TABLE)
    work = workload.run(dynamodb, TABLE, items=32, writes=520, phases=4, seed=7)
    records = workload.read_stream(streams, stream_arn)
    events = workload.lambda_events(records, stream_arn, batch=BATCH)
    # Batch 1 is delivered twice (a Lambda retry): it must change nothing.
    deliveries = events[:2] + [events[1]] + events[2:]
    watch = LambdaWatch(moto_endpoint, tmp_path_factory.mktemp("watch")).set_env(AUDIT_BUCKET=bucket)
    try:
        responses = [watch.invoke(event) for event in deliveries]
    finally:
        watch.stop()
    final_at = workload.rfc3339(time.time())
    cli = Cli(ddb_audit_bin, moto_endpoint, bucket, PREFIX)
    print(f"\nscenario: {work.writes} writes, {len(records)} records, {len(deliveries)} deliveries, "
          f"{time.monotonic() - started:.1f}s")
    return {
        "work": work, "records": records, "responses": responses, "final_at": final_at,
        "cli": cli, "bucket": bucket, "prefix": PREFIX, "stream_arn": stream_arn,
    }


def all_versions(s3, bucket: str, prefix: str) -> tuple[list[dict], list[dict]]:
    versions, markers = [], []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions.extend(page.get("Versions", []))
        markers.extend(page.get("DeleteMarkers", []))
    return versions, markers


# --- the assertions ----------------------------------------------------------------------------

def test_workload_is_what_the_issue_asks(scenario):
    """The workload is big and varied enough to mean something."""
    work, records = scenario["work"], scenario["records"]
    assert work.writes >= 500 and len(work.keys) >= 24
    ops = {op for _, op, _, _ in work.log}
    for needed in ["put", "set-nested-map", "list-append", "list-remove", "ss-add", "ss-delete",
                   "ns-add", "ns-delete", "set-big-number", "set-binary", "delete"]:
        assert needed in ops, needed
    names = [r["eventName"] for r in records]
    assert {"INSERT", "MODIFY", "REMOVE"} <= set(names)
    recreated = [kid for kid in {k for k, _, _, _ in work.log}
                 if [op for k, op, _, _ in work.log if k == kid].count("put") >= 2]
    assert recreated, "some deleted item is created again"
    assert len(records) == work.writes, "moto emits one record per write here"


def test_every_delivery_succeeds(scenario):
    """No delivery reports a failed record (the re-delivered batch included)."""
    for response in scenario["responses"]:
        assert response.get("batchItemFailures", []) == [], response


def test_exactly_one_document_per_record(scenario, s3):
    """One object per stream record, each written once: the retried batch wrote nothing new."""
    versions, markers = all_versions(s3, scenario["bucket"], scenario["prefix"])
    assert markers == []
    keys = [v["Key"] for v in versions]
    assert len(keys) == len(set(keys)), "an object has more than one version"
    assert len(keys) == len(scenario["records"])
    event_ids = {r["eventID"] for r in scenario["records"]}
    assert len(event_ids) == len(scenario["records"])
    assert {k.rsplit("-", 1)[-1].removesuffix(".json") for k in keys} == event_ids


def test_history_lists_every_record_of_each_item(scenario):
    """`history --json` of each item gives its records, in stream order, once each."""
    cli, records = scenario["cli"], scenario["records"]
    by_item: dict[str, list[str]] = {}
    for r in records:
        by_item.setdefault(workload.key_id(r["dynamodb"]["Keys"]), []).append(r["eventID"])

    def one(key):
        out = cli.run("history", "--table", TABLE, "--key", workload.shorthand(key), "--json")
        assert out.returncode == 0, out.stderr
        return [json.loads(line)["event_id"] for line in out.stdout.splitlines()]

    keys = scenario["work"].keys
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, keys))
    for key, ids in zip(keys, got):
        assert ids == by_item.get(workload.key_id(key), []), key


def test_replay_now_equals_scan(scenario, dynamodb):
    """For every item, the replay at the end equals what a Scan returns (typed, numbers by value)."""
    cli = scenario["cli"]
    scanned = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        for item in page["Items"]:
            scanned[workload.key_id({"pk": item["pk"], "sk": item["sk"]})] = item
    keys = scenario["work"].keys
    with ThreadPoolExecutor(4) as pool:
        replayed = list(pool.map(lambda k: cli.replay(k, scenario["final_at"])[0], keys))
    assert any(r is None for r in replayed) and any(r is not None for r in replayed)
    for key, item in zip(keys, replayed):
        assert norm_item(item) == norm_item(scanned.get(workload.key_id(key))), key


def test_replay_at_each_boundary_equals_recorded_state(scenario):
    """At every intermediate phase boundary, every item replays to the state recorded then."""
    cli, work = scenario["cli"], scenario["work"]
    # The last boundary is the end state, which test_replay_now_equals_scan checks against a Scan.
    jobs = [(b, k) for b in work.boundaries[:-1] for k in work.keys]
    with ThreadPoolExecutor(4) as pool:
        replayed = list(pool.map(lambda job: cli.replay(job[1], job[0].at)[0], jobs))
    mismatches = [
        (b.at, k) for (b, k), got in zip(jobs, replayed)
        if norm_item(got) != norm_item(b.states[workload.key_id(k)])
    ]
    assert mismatches == []
    # The boundaries really are intermediate: the states differ from one to the next.
    distinct = {repr(sorted((k, norm_item(v)) for k, v in b.states.items())) for b in work.boundaries}
    assert len(distinct) == len(work.boundaries)


def test_cli_errors_are_one_line(scenario):
    """A bad key, a bad time and a missing bucket each give one line on stderr and exit 1."""
    cli = scenario["cli"]
    for args, bucket, expected in [
        (["replay", "--table", TABLE, "--key", "pk:X=1", "--at", "now"], None, "--key"),
        (["replay", "--table", TABLE, "--key", "pk=a", "--at", "yesterday"], None, "--at"),
        (["history", "--table", TABLE, "--key", "pk=a"], "no-such-bucket-here", "no such bucket"),
        (["verify"], "no-such-bucket-here", "no such bucket"),
    ]:
        out = cli.run(*args, bucket=bucket)
        assert out.returncode == 1, (args, out)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, out.stderr)
        assert "panicked" not in out.stderr


def test_sample_events_verify_and_unreadable_in_history(audit_bucket, lambda_watch, moto_endpoint, ddb_audit_bin):
    """Every sample event in record mode (hashed keys, KEYS_ONLY, TTL, an unreadable record):
    verify passes, noting the error document; every awkward key finds its own history; the
    item whose record was unreadable shows it in its history, and its replay is uncertain."""
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket)
    for event in sorted((ROOT / "events").glob("*.json")):
        assert lambda_watch.invoke(str(event)).get("batchItemFailures", []) == [], event.name
    cli = Cli(ddb_audit_bin, moto_endpoint, audit_bucket, PREFIX)
    out = cli.run("verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 unreadable record kept as error documents" in out.stdout, out.stdout
    # Awkward keys (/, %, look-alike separators, Unicode, binary, 2 KB): each item's history
    # holds exactly its records, whether its prefix is readable or hashed.
    edge = json.loads((ROOT / "events" / "item-key-edge.json").read_text())["Records"]
    for record in edge:
        keys = record["dynamodb"]["Keys"]
        expected = [r["eventID"] for r in edge if r["dynamodb"]["Keys"] == keys]
        got = cli.run("history", "--table", "Orders", "--key", json.dumps(keys), "--json")
        assert got.returncode == 0, got.stderr
        assert [json.loads(line)["event_id"] for line in got.stdout.splitlines()] == expected
    key = "pk=ORDER#2004,sk=LINE#1"  # index 3 of mixed-batch.json: unknown type tag X
    history = cli.run("history", "--table", "Orders", "--key", key)
    assert "the stream record could not be read" in history.stdout, history.stdout
    replay = cli.run("replay", "--table", "Orders", "--key", key, "--at", "now")
    assert replay.returncode == 2 and "UNCERTAIN" in replay.stderr, replay.stderr


def test_batch_mode_bucket_is_verified_and_read_by_history(audit_bucket, lambda_watch, moto_endpoint,
                                                           ddb_audit_bin):
    """In batch mode verify checks the gzip JSON Lines objects; history and replay find the item
    in the partitions (tests/py/test_investigate.py compares them with record mode)."""
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket, AUDIT_MODE="batch")
    for name in ["insert.json", "modify.json", "mixed-batch.json"]:
        assert lambda_watch.invoke(f"events/{name}").get("batchItemFailures", []) == [], name
    cli = Cli(ddb_audit_bin, moto_endpoint, audit_bucket, PREFIX)
    out = cli.run("verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert ".jsonl.gz" not in out.stdout and " 0 documents" not in out.stdout
    for args in [["history"], ["replay", "--at", "now"]]:
        res = cli.run(*args, "--table", "Orders", "--key", "pk=ORDER#1001,sk=META")
        assert res.returncode != 1 and res.stdout.strip(), res


def test_verify_passes_then_catches_tampering(scenario, s3):
    """verify passes on the function's work, then names an overwritten and a deleted object.

    Runs last: it tampers with the bucket.
    """
    cli, bucket, prefix = scenario["cli"], scenario["bucket"], scenario["prefix"]
    out = cli.run("verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(scenario['records'])} objects" in out.stdout

    versions, _ = all_versions(s3, bucket, prefix)
    keys = sorted(v["Key"] for v in versions)
    overwritten, deleted = keys[3], keys[-3]
    body = s3.get_object(Bucket=bucket, Key=overwritten)["Body"].read()
    forged = body.replace(b'"ttl_expiry":false', b'"ttl_expiry":true')
    assert forged != body
    s3.put_object(Bucket=bucket, Key=overwritten, Body=forged, ChecksumAlgorithm="SHA256")
    s3.delete_object(Bucket=bucket, Key=deleted)  # a delete marker: Object Lock allows it

    out = cli.run("verify")
    assert out.returncode != 0
    problems = [line for line in out.stdout.splitlines() if line.startswith("PROBLEM")]
    assert any(overwritten in p and "overwritten" in p for p in problems), out.stdout
    assert any(deleted in p and "deleted" in p for p in problems), out.stdout
    assert len({p.split()[1] for p in problems}) == 2, problems

    # Replay of the tampered item says its answer is uncertain, naming the object.
    doc = json.loads(body)
    replay = cli.run("replay", "--table", TABLE, "--key", json.dumps(doc["key"]), "--at", scenario["final_at"])
    assert replay.returncode == 2, replay.stderr
    assert "UNCERTAIN" in replay.stderr and overwritten in replay.stderr
