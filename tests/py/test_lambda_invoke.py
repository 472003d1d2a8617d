"""`cargo lambda watch` + `cargo lambda invoke ddb-audit-lambda --data-file events/...` against a
local moto S3 server writes the expected audit objects, in record and in batch mode.

The function runs exactly as a user runs it by hand (docs/lambda.md): the real binary under
cargo-lambda's emulated Lambda runtime, configured through environment variables, writing
through the AWS SDK to moto. Servers bind 127.0.0.1 on free ports and are stopped afterwards.
"""

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import boto3
import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events").glob("*.json"))
SCHEMA = json.loads((ROOT / "schema" / "audit-document.schema.json").read_text())
BUCKET = "audit-bucket"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def find_tool(name):
    """$DDB_AUDIT_TOOLS/bin, then the repository's .tools/bin, then PATH; fail naming scripts/setup."""
    candidates = []
    if os.environ.get("DDB_AUDIT_TOOLS"):
        candidates.append(Path(os.environ["DDB_AUDIT_TOOLS"]) / "bin" / name)
    candidates.append(ROOT / ".tools" / "bin" / name)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(f"{name} not found: run scripts/setup (it installs the pinned tools into .tools/)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited early with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not listen on port {port} within {timeout}s")


def stop(process):
    """Stops a process started in its own session, and everything it started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")
    server = subprocess.Popen(
        [find_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(port, server, 60, "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    return client


@pytest.fixture(scope="module", params=["record", "batch"])
def function(request, s3, s3_endpoint, tmp_path_factory):
    """The function under `cargo lambda watch`, in one mode; yields (mode, prefix, port)."""
    mode = request.param
    prefix = f"invoke-{mode}/"
    port = free_port()
    env_vars = {
        "AUDIT_BUCKET": BUCKET,
        "AUDIT_PREFIX": prefix,
        "AUDIT_MODE": mode,
        "AUDIT_S3_FORCE_PATH_STYLE": "true",
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "RUST_LOG": "info",
    }
    log_path = tmp_path_factory.mktemp("watch") / "watch.log"
    log = open(log_path, "wb")
    cmd = [find_tool("cargo-lambda"), "lambda", "watch", "--ignore-changes",
           "-A", "127.0.0.1", "-P", str(port)]
    for name, value in env_vars.items():
        cmd += ["--env-var", f"{name}={value}"]
    watch = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, watch, 120, "cargo lambda watch")
        yield mode, prefix, port, log_path
    finally:
        stop(watch)
        log.close()


def invoke(port, event_file):
    done = subprocess.run(
        [find_tool("cargo-lambda"), "lambda", "invoke", "ddb-audit-lambda",
         "-A", "127.0.0.1", "-P", str(port), "--data-file", str(event_file)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, f"invoke {event_file.name} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def keys_under(s3, prefix):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def documents_of(s3, key):
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    if key.endswith(".jsonl.gz"):
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    return [json.loads(body)]


def test_every_sample_event_is_written_once(function, s3):
    """Each sample event gives one valid audit document per stream record (unreadable records
    as error documents), in the mode's layout, and invoking it again adds nothing."""
    mode, prefix, port, _ = function
    assert EVENTS, "no events/*.json"
    for event_file in EVENTS:
        records = json.loads(event_file.read_text())["Records"]
        before = set(keys_under(s3, prefix))
        assert invoke(port, event_file) == {"batchItemFailures": []}, event_file.name
        new_keys = sorted(set(keys_under(s3, prefix)) - before)

        documents = [doc for key in new_keys for doc in documents_of(s3, key)]
        assert sorted(d["event_id"] for d in documents) == sorted(r["eventID"] for r in records), event_file.name
        for doc in documents:
            jsonschema.validate(doc, SCHEMA)
        for key in new_keys:
            assert len(key.encode()) <= 1024
            if "/unreadable/" in key:
                assert key.startswith(prefix + "unreadable/") and key.endswith(".json")
            elif mode == "record":
                assert key.startswith(prefix + "table=Orders/item=") and key.endswith(".json")
            else:
                assert key.startswith(prefix + "table=Orders/dt=") and "/hour=" in key and key.endswith(".jsonl.gz")
                head = s3.head_object(Bucket=BUCKET, Key=key)
                assert head["ContentEncoding"] == "gzip" and head["ContentType"] == "application/x-ndjson"

        # Re-delivery: same response, no new object, no new version.
        assert invoke(port, event_file) == {"batchItemFailures": []}
        assert sorted(set(keys_under(s3, prefix)) - before) == new_keys
        versions = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])
        assert len(versions) == len(set(keys_under(s3, prefix))), event_file.name


@pytest.mark.parametrize("function", ["record"], indirect=True)
def test_record_mode_keys_follow_the_documented_layout(function, s3):
    """In record mode, a readable record's document lies at
    <prefix>table=Orders/item=<key>/<40-digit sequence number>-<eventID>.json."""
    _, prefix, port, _ = function
    event_file = ROOT / "events" / "insert.json"
    invoke(port, event_file)
    record = json.loads(event_file.read_text())["Records"][0]
    seq = record["dynamodb"]["SequenceNumber"].rjust(40, "0")
    expected = f"{prefix}table=Orders/item=pk=ORDER%231001,sk=META/{seq}-{record['eventID']}.json"
    assert expected in keys_under(s3, prefix)
    head = s3.head_object(Bucket=BUCKET, Key=expected, ChecksumMode="ENABLED")
    assert head["ContentType"] == "application/json"
    assert head["ChecksumSHA256"]
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_metrics_line_is_printed(function):
    """Every invocation prints one CloudWatch EMF line with the documented metrics."""
    _, _, _, log_path = function
    lines = [json.loads(line) for line in log_path.read_text(errors="replace").splitlines()
             if line.startswith("{") and '"_aws"' in line]
    assert lines, "no EMF line in the function's output"
    names = [m["Name"] for m in lines[-1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    for name in ["Records", "Changes", "UnreadableRecords", "ObjectsWritten", "DuplicatesAvoided",
                 "BytesWritten", "FailedRecords"]:
        assert name in names and isinstance(lines[-1][name], int)
