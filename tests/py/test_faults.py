"""Faults proven in the suite (issue 15): nothing lost, nothing duplicated, nothing miswritten.

The real `ddb-audit-lambda` binary runs behind a simulated event source mapping
(lambda_esm.py) and writes through a fault-injecting proxy (fault_proxy.py) to a local moto
S3. Two shards of generated stream records (INSERT, MODIFY, REMOVE and unreadable records,
crossing hour boundaries) are delivered with the template's settings for each mode, while the
proxy answers 500s, 503 SlowDown, 409 ConditionalRequestConflict, resets connections before
and after the write lands, adds latency, holds answers past the function's timeout and goes
dark, and the driver SIGKILLs the process mid-invocation.

Then every stored document is compared with what `ddb-audit transform` renders for the same
record (the golden), and the test counts, per mode:
  lost        records with no stored document that are not in the failure list
  duplicated  documents stored more than once (in two objects, or as a second version)
  wrong       stored documents that are not transform's document for any record
Records in the failure list (batches Lambda gave up on after MaximumRetryAttempts) are
reported separately: `ddb-audit recover` brings them back from the stream.

The function's timeout is scaled down (DDB_AUDIT_FAULT_TIMEOUT seconds instead of the
template's 60) and a held answer lasts longer than that, so the test stays short.

  pytest tests/py/test_faults.py -s                          one fixed seed per mode
  DDB_AUDIT_FAULT_SEEDS=20 pytest tests/py/test_faults.py -s  a sweep over seeds 1..20
  DDB_AUDIT_FAULT_SEED=7 pytest tests/py/test_faults.py -s    one given seed
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cfn import load_template
from conftest import boto_client, make_audit_bucket, tools_env
from fault_proxy import FaultPlan, FaultProxy
from lambda_esm import Environment, EventSourceMapping, MappingSettings

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-11-27T00:00:00.000"
SHARDS = ["shardId-00000001795746700000-aaaa0001", "shardId-00000001795746700000-bbbb0002"]
RECORDS_PER_SHARD = int(os.environ.get("DDB_AUDIT_FAULT_RECORDS", "1500"))
T0 = 1795746700  # 2026-11-27T02:31:40Z
TIMEOUT = float(os.environ.get("DDB_AUDIT_FAULT_TIMEOUT", "4"))
# An experiment's override of the template's BisectBatchOnFunctionError: "true" or "false".
BISECT = os.environ.get("DDB_AUDIT_FAULT_BISECT")
KILL_WINDOW = (0.02, 0.4)  # seconds into the invocation


def fault_plan(mode: str, seed: int) -> FaultPlan:
    """Record mode makes one request per record, batch mode one or two per batch: the same
    rates would leave batch mode almost unharmed, so its rates are higher, for a similar
    number of faults per run."""
    if mode == "record":
        return FaultPlan(seed)
    return FaultPlan(seed, error500=0.05, slowdown503=0.08, reset_before=0.05, reset_after=0.1,
                     latency=0.1, hold=0.05, dark=0.03)


def kill_rate(mode: str) -> float:
    """The share of invocations whose process is SIGKILLed mid-way."""
    return 0.05 if mode == "record" else 0.15


def seeds() -> list[int]:
    """The fixed seed by default; DDB_AUDIT_FAULT_SEED=N for one seed, DDB_AUDIT_FAULT_SEEDS=N
    for the sweep over 1..N."""
    if os.environ.get("DDB_AUDIT_FAULT_SEED"):
        return [int(os.environ["DDB_AUDIT_FAULT_SEED"])]
    return list(range(1, int(os.environ.get("DDB_AUDIT_FAULT_SEEDS", "1")) + 1))


# --- the workload --------------------------------------------------------------------------------


def _image(shard: int, item: int, i: int) -> dict:
    return {
        "pk": {"S": f"ORDER#{shard}-{item:05d}"},
        "sk": {"S": "META"},
        "qty": {"N": str(i % 17)},
        "total": {"N": f"{i * 7 % 1000}.{i % 100:02d}"},
        "tags": {"SS": sorted({"web", f"t{i % 5}", f"u{i % 3}"})},
        "doc": {"M": {"n": {"N": "1.50"}, "l": {"L": [{"S": "a"}, {"N": str(i)}]}, "b": {"B": "AAEC"}}},
    }


def make_records(shard: int, count: int) -> list[dict]:
    """One shard's stream records, the same every run: each item is inserted, modified and
    removed in turn; every 97th record carries an unknown attribute type (unreadable); creation
    times 5 s apart, so batches cross hour boundaries."""
    records = []
    for i in range(count):
        item, step = divmod(i, 3)
        name = ["INSERT", "MODIFY", "REMOVE"][step]
        old = _image(shard, item, i - 1) if step else None
        new = _image(shard, item, i) if step < 2 else None
        if i % 97 == 50:
            new = dict(new or {}, bad={"X": "1"})
        ddb = {
            "ApproximateCreationDateTime": T0 + i * 5,
            "Keys": {"pk": {"S": f"ORDER#{shard}-{item:05d}"}, "sk": {"S": "META"}},
            "SequenceNumber": str((shard + 1) * 10**20 + i * 1009 + 7),
            "SizeBytes": 100 + i % 50,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
        if new is not None:
            ddb["NewImage"] = new
        if old is not None:
            ddb["OldImage"] = old
        records.append({
            "eventID": hashlib.md5(f"fault {shard} {i}".encode()).hexdigest(),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": ddb,
            "eventSourceARN": STREAM_ARN,
        })
    return records


def canonical(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def golden(ddb_audit: str, records: list[dict]) -> list[str]:
    """transform's document for each record, in order, in canonical form."""
    proc = subprocess.run([ddb_audit, "transform", "-"], input=json.dumps({"Records": records}).encode(),
                          capture_output=True, check=True, env=tools_env())
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == len(records), "transform gives one document per record"
    return [canonical(json.loads(line)) for line in lines]


# --- the template's settings ---------------------------------------------------------------------


def mapping_settings(mode: str) -> tuple[MappingSettings, dict[str, str]]:
    """The event source mapping's settings and the function's environment for `mode`, from
    template.yaml's defaults (the timeout scaled down to TIMEOUT)."""
    template = load_template()
    params = template["Parameters"]
    function = template["Resources"]["AuditFunction"]["Properties"]
    (event,) = function["Events"].values()
    e = event["Properties"]
    assert e["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    def value(expr):
        if isinstance(expr, dict) and "Ref" in expr:
            return params[expr["Ref"]]["Default"]
        if isinstance(expr, dict) and "Fn::If" in expr:
            condition, when_true, when_false = expr["Fn::If"]
            assert condition == "BatchMode", condition
            return value(when_true if mode == "batch" else when_false)
        return expr

    settings = MappingSettings(
        batch_size=int(value(e["BatchSize"])),
        maximum_retry_attempts=int(value(e["MaximumRetryAttempts"])),
        bisect=bool(value(e["BisectBatchOnFunctionError"])) if BISECT is None else BISECT == "true",
        timeout=min(TIMEOUT, float(function["Timeout"])),
    )
    variables = function["Environment"]["Variables"]
    env = {
        "AUDIT_MODE": mode,
        "AUDIT_PREFIX": variables["AUDIT_PREFIX"],
        "AUDIT_INCLUDE_IMAGES": str(value(variables["AUDIT_INCLUDE_IMAGES"])),
        "AUDIT_MAX_CONCURRENCY": str(value(variables["AUDIT_MAX_CONCURRENCY"])),
        # Scaled down with the function's timeout (TIMEOUT s instead of the template's 60 s),
        # so that one write still fits in an invocation and the deadline is what is tested.
        "AUDIT_S3_ATTEMPT_TIMEOUT_MS": "1000",
        "AUDIT_S3_OPERATION_TIMEOUT_MS": "2500",
    }
    return settings, env


# --- one run -------------------------------------------------------------------------------------


@dataclass
class Report:
    mode: str
    seed: int
    seconds: float = 0.0
    faults: Counter = field(default_factory=Counter)
    invocations: int = 0
    cold_starts: int = 0
    bisections: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failure_batches: int = 0
    failure_records: int = 0
    failure_not_stored: int = 0
    records: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    unconditional_puts: int = 0
    examples: list[str] = field(default_factory=list)

    def line(self) -> str:
        faults = " ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        outcomes = " ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))
        return (
            f"{self.mode:6} seed={self.seed:<3} {self.seconds:5.1f}s records={self.records} "
            f"invocations={self.invocations} ({outcomes}) cold_starts={self.cold_starts} "
            f"bisections={self.bisections} | faults: {faults} | failure list: "
            f"{self.failure_batches} batches, {self.failure_records} records "
            f"({self.failure_not_stored} not stored) | lost={self.lost} "
            f"duplicated={self.duplicated} wrong={self.wrong}"
        )


def run_once(mode: str, seed: int, moto_endpoint: str, binaries: dict[str, str], log_dir: Path) -> Report:
    """Delivers both shards through the faults and counts what was stored."""
    report = Report(mode, seed)
    shards = [make_records(s, RECORDS_PER_SHARD) for s in range(len(SHARDS))]
    expected = {doc: (s, i) for s, records in enumerate(shards)
                for i, doc in enumerate(golden(binaries["ddb-audit"], records))}
    s3 = boto_client("s3", moto_endpoint)
    bucket = make_audit_bucket(s3)
    settings, env = mapping_settings(mode)
    started = time.monotonic()
    with FaultProxy(int(moto_endpoint.rsplit(":", 1)[1]), fault_plan(mode, seed)) as proxy:
        function_env = tools_env(AWS_ENDPOINT_URL_S3=proxy.endpoint, AUDIT_S3_FORCE_PATH_STYLE="true",
                                 AUDIT_BUCKET=bucket, RUST_LOG="warn", **env)
        mappings = []
        for s, shard_id in enumerate(SHARDS):
            environment = Environment(binaries["ddb-audit-lambda"], function_env,
                                      log_dir / f"{mode}-{seed}-shard{s}.log")
            mappings.append(EventSourceMapping(shard_id, STREAM_ARN, shards[s], environment, settings,
                                               f"{seed}|{shard_id}", kill_rate(mode), KILL_WINDOW))
        _run_all(mappings)
        proxy.wait_idle(timeout=settings.timeout + 30)
        report.seconds = time.monotonic() - started
        report.faults = proxy.state.injected + Counter(sigkill=sum(m.stats.kills for m in mappings))
        stored = _stored_documents(proxy, s3, bucket)
        report.unconditional_puts = sum(
            1 for h in proxy.state.put_headers
            if h.get("if-none-match") != "*" or "x-amz-object-lock-retain-until-date" in h
        )
    for m in mappings:
        report.invocations += m.stats.invocations
        report.bisections += m.stats.bisections
        report.outcomes += m.stats.outcomes
        report.cold_starts += m.environment.cold_starts
    _account(report, shards, expected, stored, mappings)
    return report


def _run_all(mappings: list[EventSourceMapping]) -> None:
    """Each shard in its own thread, as Lambda processes shards concurrently; every
    environment is killed at the end."""
    errors = []

    def run(m: EventSourceMapping) -> None:
        try:
            m.run()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            m.environment.kill()

    threads = [threading.Thread(target=run, args=(m,)) for m in mappings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _stored_documents(proxy: FaultProxy, s3, bucket: str) -> Counter:
    """Every document stored, with its number of copies, from the PUTs moto accepted; checked
    against the bucket's object versions, so the proxy's record is the bucket's content."""
    versions = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            versions[v["Key"]] += 1
    prefix = f"/{bucket}/"
    landed = Counter(p.key.removeprefix(prefix) for p in proxy.state.landed)
    assert landed == versions, "the proxy saw exactly the object versions the bucket holds"
    documents = Counter()
    for put in proxy.state.landed:
        body = gzip.decompress(put.body) if put.body[:2] == b"\x1f\x8b" else put.body
        for line in body.decode().splitlines():
            if line.strip():
                documents[canonical(json.loads(line))] += 1
    return documents


def _account(report: Report, shards: list[list[dict]], expected: dict[str, tuple[int, int]],
             stored: Counter, mappings: list[EventSourceMapping]) -> None:
    """lost, duplicated, wrong, and the failure list's share, into `report`."""
    in_failure_list = set()
    for s, m in enumerate(mappings):
        index = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(shards[s])}
        for f in m.failures:
            info = f["DDBStreamBatchInfo"]
            first, last = index[info["startSequenceNumber"]], index[info["endSequenceNumber"]]
            in_failure_list.update((s, i) for i in range(first, last + 1))
            report.failure_batches += 1
    found = {expected[doc] for doc in stored if doc in expected}
    report.records = sum(len(records) for records in shards)
    report.stored = len(found)
    report.failure_records = len(in_failure_list)
    report.failure_not_stored = len(in_failure_list - found)
    missing = set(expected.values()) - found - in_failure_list
    report.lost = len(missing)
    report.duplicated = sum(n - 1 for doc, n in stored.items() if doc in expected and n > 1)
    report.wrong = sum(n for doc, n in stored.items() if doc not in expected)
    report.examples = [f"lost shard {s} record {i}" for s, i in sorted(missing)[:3]] + [
        f"wrong: {doc[:300]}" for doc in stored if doc not in expected][:3]


# --- the test ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["record", "batch"])
def test_faults_lose_duplicate_and_miswrite_nothing(mode, moto_endpoint, rust_binaries, tmp_path):
    reports = [run_once(mode, seed, moto_endpoint, rust_binaries, tmp_path) for seed in seeds()]
    summary = "\n".join(r.line() for r in reports)
    print(f"\nfault test, {mode} mode:\n{summary}")
    for r in reports:
        detail = f"{r.line()}\n" + "\n".join(r.examples) + f"\nlogs: {tmp_path}"
        # The bucket policy denies writes without If-None-Match or with a short retention: the
        # function's writes must be ones it admits.
        assert r.unconditional_puts == 0, detail
        assert r.faults, "the schedule injected no fault at all"
        assert r.lost == 0, detail
        assert r.wrong == 0, detail
        assert r.duplicated == 0, detail
