"""`cargo lambda watch` + `cargo lambda invoke ddb-audit-lambda --data-file events/...` against a
local moto S3 server writes the expected audit objects, in record and in batch mode.

The function runs as a user runs it by hand (docs/lambda.md): the real binary under
cargo-lambda's emulated Lambda runtime, configured through environment variables, writing
through the AWS SDK to moto. The fixtures (conftest.py) start and stop every server.
"""

import gzip
import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTS = sorted((ROOT / "events").glob("*.json"))
SCHEMA = json.loads((ROOT / "schema" / "audit-document.schema.json").read_text())
EMF_METRICS = ["Records", "Changes", "UnreadableRecords", "ObjectsWritten", "DuplicatesAvoided",
               "BytesWritten", "FailedRecords"]


def keys_under(s3, bucket, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def documents_of(s3, bucket, key):
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if key.endswith(".jsonl.gz"):
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    return [json.loads(body)]


def emf_lines(logs):
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"_aws"' in line]


# Every sample event gives one schema-valid audit document per stream record (unreadable
# records as error documents) in the mode's layout; invoking it again changes nothing (no new
# object, no new version) and the metrics line counts the duplicates.
@pytest.mark.parametrize("mode", ["record", "batch"])
def test_every_sample_event_is_written_once(lambda_watch, audit_bucket, s3, mode):
    assert EVENTS, "no events/*.json"
    prefix = "audit/"
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket, AUDIT_MODE=mode)
    for event_file in EVENTS:
        records = json.loads(event_file.read_text())["Records"]
        before = set(keys_under(s3, audit_bucket))
        response = lambda_watch.invoke(event_file)
        assert response == {"batchItemFailures": []}, f"{event_file.name}\n{lambda_watch.logs()}"
        new_keys = sorted(set(keys_under(s3, audit_bucket)) - before)

        documents = [doc for key in new_keys for doc in documents_of(s3, audit_bucket, key)]
        assert sorted(d["event_id"] for d in documents) == sorted(r["eventID"] for r in records), event_file.name
        for doc in documents:
            jsonschema.validate(doc, SCHEMA)
        for key in new_keys:
            assert len(key.encode()) <= 1024
            head = s3.head_object(Bucket=audit_bucket, Key=key, ChecksumMode="ENABLED")
            assert head["ChecksumSHA256"] and head["ObjectLockMode"] == "GOVERNANCE", key
            if key.startswith(prefix + "unreadable/"):
                assert key.endswith(".json") and head["ContentType"] == "application/json"
            elif mode == "record":
                assert key.startswith(prefix + "table=Orders/item=") and key.endswith(".json"), key
                assert head["ContentType"] == "application/json"
            else:
                assert key.startswith(prefix + "table=Orders/dt=") and "/hour=" in key, key
                assert key.endswith(".jsonl.gz")
                assert head["ContentEncoding"] == "gzip" and head["ContentType"] == "application/x-ndjson"

        # Re-delivery: the same answer, nothing new, every object still has one version.
        assert lambda_watch.invoke(event_file) == {"batchItemFailures": []}
        assert sorted(set(keys_under(s3, audit_bucket)) - before) == new_keys
        last = emf_lines(lambda_watch.logs())[-1]
        assert (last["ObjectsWritten"], last["DuplicatesAvoided"]) == (0, len(new_keys)), event_file.name
        versions = s3.list_object_versions(Bucket=audit_bucket).get("Versions", [])
        assert len(versions) == len(keys_under(s3, audit_bucket)), event_file.name


# In record mode a document lies at the documented key:
# <prefix>table=Orders/item=<key>/<40-digit sequence number>-<eventID>.json.
def test_record_mode_key_follows_the_documented_layout(lambda_watch, audit_bucket, s3):
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket, AUDIT_PREFIX="custom/prefix")
    event_file = ROOT / "events" / "insert.json"
    assert lambda_watch.invoke(event_file) == {"batchItemFailures": []}
    record = json.loads(event_file.read_text())["Records"][0]
    seq = record["dynamodb"]["SequenceNumber"].rjust(40, "0")
    expected = f"custom/prefix/table=Orders/item=pk=ORDER%231001,sk=META/{seq}-{record['eventID']}.json"
    assert keys_under(s3, audit_bucket) == [expected]


# Every invocation prints one CloudWatch EMF line carrying the documented metrics.
def test_metrics_line_is_printed(lambda_watch, audit_bucket):
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket)
    lambda_watch.invoke(ROOT / "events" / "mixed-batch.json")
    lines = emf_lines(lambda_watch.logs())
    assert len(lines) == 1, lambda_watch.logs()
    line = lines[0]
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ddb-audit"
    assert [m["Name"] for m in directive["Metrics"]][: len(EMF_METRICS)] == EMF_METRICS
    assert (line["Records"], line["UnreadableRecords"], line["ObjectsWritten"], line["FailedRecords"]) == (6, 1, 6, 0)


# A bad setting stops the function at cold start, and the message names the variable.
def test_bad_setting_fails_naming_the_variable(lambda_watch, audit_bucket):
    from conftest import LambdaInvokeError

    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket, AUDIT_MAX_CONCURRENCY="0")
    # The function never comes up, so the invoke can only time out: do not wait long for it.
    lambda_watch.timeout = 15
    with pytest.raises(LambdaInvokeError):
        lambda_watch.invoke(ROOT / "events" / "insert.json")
    assert "AUDIT_MAX_CONCURRENCY" in lambda_watch.logs()
