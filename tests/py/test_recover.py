"""`ddb-audit recover` end to end against moto: DynamoDB Streams, SQS and S3 (issue 15).

A table with a stream takes a few writes; messages in the failure queue describe ranges of its
shard as Lambda's on-failure destination does (DDBStreamBatchInfo). `recover` must write every
record of each range exactly as the function would (the documents `ddb-audit transform` renders
for the same records, under the function's keys), cost a 412 for documents already stored,
delete the messages it recovered, and report a range the stream no longer holds and record it
under gaps/ (moto never trims a stream, so a small proxy answers GetShardIterator for one range
with DynamoDB Streams' TrimmedDataAccessException).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, boto_client, make_audit_bucket, tools_env

PREFIX = "audit/"


class TrimmingProxy:
    """Forwards DynamoDB Streams calls to moto, except GetShardIterator at a sequence number in
    `trimmed`, which gets the service's TrimmedDataAccessException."""

    def __init__(self, target: str):
        self.trimmed: set[str] = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target_op = self.headers.get("X-Amz-Target", "")
                if target_op.endswith("GetShardIterator") and json.loads(body).get("SequenceNumber") in proxy.trimmed:
                    self._answer(400, json.dumps({
                        "__type": "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException",
                        "message": "The operation attempted to read past the oldest stream record in a shard.",
                    }).encode(), "application/x-amz-json-1.0")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(target + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self._answer(response.status, response.read(), response.headers.get("Content-Type"))
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read(), error.headers.get("Content-Type"))

            def _answer(self, status: int, body: bytes, content_type: str | None):
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(moto_endpoint):
    """A table with a stream and 12 records (INSERT, MODIFY, REMOVE), its shard's raw records, a
    failure queue, an audit bucket, and the trimming proxy."""
    dynamodb = boto_client("dynamodb", moto_endpoint)
    table = f"Orders{uuid.uuid4().hex[:8]}"
    description = dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    stream_arn = description["LatestStreamArn"]
    for i in range(4):
        key = {"pk": {"S": f"ORDER#{i}"}}
        dynamodb.put_item(TableName=table, Item=dict(key, total={"N": f"{i}.50"}, tags={"SS": ["a"]},
                                                     blob={"B": bytes([0, i, 255])}))
        dynamodb.put_item(TableName=table, Item=dict(key, total={"N": "12345678901234567890.123"},
                                                     nested={"M": {"l": {"L": [{"S": "x"}, {"NULL": True}]}}}))
        dynamodb.delete_item(TableName=table, Key=key)
    streams = boto_client("dynamodbstreams", moto_endpoint)
    raw: list[bytes] = []
    streams.meta.events.register("after-call.dynamodbstreams.GetRecords",
                                 lambda http_response, **_: raw.append(http_response.content))
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    streams.get_records(ShardIterator=iterator)
    records = json.loads(raw[-1])["Records"]
    assert len(records) == 12
    sqs = boto_client("sqs", moto_endpoint)
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    bucket = make_audit_bucket(boto_client("s3", moto_endpoint))
    proxy = TrimmingProxy(moto_endpoint)
    yield {
        "stream_arn": stream_arn, "shard_id": shard["ShardId"], "records": records, "sqs": sqs,
        "queue_url": queue_url, "bucket": bucket, "s3": boto_client("s3", moto_endpoint),
        "proxy": proxy, "endpoint": moto_endpoint,
    }
    proxy.stop()


def send_failure(world, first: int, last: int) -> dict:
    """Lambda's on-failure record for the batch of records first..last (inclusive)."""
    records = world["records"]
    info = {
        "shardId": world["shard_id"],
        "startSequenceNumber": records[first]["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": records[last]["dynamodb"]["SequenceNumber"],
        "batchSize": last - first + 1,
        "streamArn": world["stream_arn"],
        "approximateArrivalOfFirstRecord": "2026-11-27T02:31:40.000Z",
        "approximateArrivalOfLastRecord": "2026-11-27T02:31:41.000Z",
    }
    body = {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:audit",
                           "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0", "timestamp": "2026-11-27T02:41:40.000Z",
        "DDBStreamBatchInfo": info,
    }
    world["sqs"].send_message(QueueUrl=world["queue_url"], MessageBody=json.dumps(body))
    return info


def recover(ddb_audit: Path, world, *extra: str, mode: str = "record",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = tools_env(AWS_ENDPOINT_URL=world["endpoint"], AWS_ENDPOINT_URL_DYNAMODB_STREAMS=world["proxy"].endpoint,
                    AUDIT_S3_FORCE_PATH_STYLE="true", **(env or {}))
    cmd = [str(ddb_audit), "recover", "--queue-url", world["queue_url"], "--bucket", world["bucket"],
           "--prefix", PREFIX, "--mode", mode, *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def transform(ddb_audit: Path, world, first: int, last: int) -> dict[str, dict]:
    """What the function would write for records first..last: transform's documents by eventID."""
    event = {"Records": [dict(r, eventSourceARN=world["stream_arn"]) for r in world["records"][first:last + 1]]}
    out = subprocess.run([str(ddb_audit), "transform", "-"], input=json.dumps(event), capture_output=True,
                         text=True, check=True)
    return {d["event_id"]: d for d in map(json.loads, out.stdout.splitlines())}


def stored(world, prefix: str) -> dict[str, list]:
    """Every object version under prefix: key -> [document, ...]."""
    s3, bucket = world["s3"], world["bucket"]
    out: dict[str, list] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"].read()
            out.setdefault(version["Key"], []).append(json.loads(body))
    return out


def queue_size(world) -> int:
    attrs = world["sqs"].get_queue_attributes(QueueUrl=world["queue_url"], AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


# Two skipped batches come back whole, each document exactly transform's, once, under the
# function's record-mode key; the messages are deleted; a second run of the same ranges finds
# every document stored (412) and writes nothing.
def test_skipped_ranges_come_back_whole(ddb_audit_bin, world):
    send_failure(world, 0, 3)
    send_failure(world, 6, 10)
    run = recover(ddb_audit_bin, world)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 messages: 2 recovered (9 records, 9 objects written, 0 already stored)" in run.stdout, run.stdout
    expected = transform(ddb_audit_bin, world, 0, 3) | transform(ddb_audit_bin, world, 6, 10)
    objects = stored(world, PREFIX)
    assert all(len(versions) == 1 for versions in objects.values()), "one version per object"
    documents = {versions[0]["event_id"]: versions[0] for versions in objects.values()}
    assert documents == expected
    for key, (document,) in objects.items():
        seq = document["source"]["sequence_number"]
        assert key.endswith(f"/{seq:0>40}-{document['event_id']}.json"), key
    assert queue_size(world) == 0

    send_failure(world, 0, 3)
    again = recover(ddb_audit_bin, world)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 messages: 1 recovered (4 records, 0 objects written, 4 already stored)" in again.stdout, again.stdout
    assert stored(world, PREFIX) == objects


# Batch mode writes the range as the function would: gzip JSON Lines objects named after their
# first record, holding exactly transform's documents.
def test_batch_mode_recovers_as_the_function_writes(ddb_audit_bin, world):
    import gzip

    send_failure(world, 2, 9)
    run = recover(ddb_audit_bin, world, mode="batch")
    assert run.returncode == 0, run.stdout + run.stderr
    s3, bucket = world["s3"], world["bucket"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX).get("Contents", [])]
    assert keys and all(k.endswith(".jsonl.gz") for k in keys), keys
    first_seq = world["records"][2]["dynamodb"]["SequenceNumber"]
    assert any(k.endswith(f"/{first_seq:0>40}.jsonl.gz") for k in keys), keys
    lines = [json.loads(line) for k in keys
             for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).splitlines()]
    assert {d["event_id"]: d for d in lines} == transform(ddb_audit_bin, world, 2, 9)
    assert len(lines) == 8


# A range the stream no longer holds is reported (exit status 2, one GAP line), recorded as a
# schema-valid gap record under gaps/, and its message deleted; the other range is recovered.
def test_a_trimmed_range_is_reported_and_recorded_as_a_gap(ddb_audit_bin, world):
    from jsonschema import Draft202012Validator

    trimmed = send_failure(world, 0, 2)
    world["proxy"].trimmed.add(trimmed["startSequenceNumber"])
    send_failure(world, 3, 5)
    run = recover(ddb_audit_bin, world)
    assert run.returncode == 2, run.stdout + run.stderr
    gap_lines = [line for line in run.stdout.splitlines() if line.startswith("GAP ")]
    assert len(gap_lines) == 1 and "trimmed" in gap_lines[0], run.stdout
    assert "2 messages: 2 recovered (3 records, 3 objects written, 0 already stored), 1 with gaps" in run.stdout
    gaps = stored(world, PREFIX + "gaps/")
    ((key, (gap,)),) = gaps.items()
    assert key.startswith(PREFIX + "gaps/table=") and key in gap_lines[0]
    schema = json.loads((ROOT / "schema" / "gap.schema.json").read_text())
    Draft202012Validator(schema).validate(gap)
    assert gap["start_sequence_number"] == trimmed["startSequenceNumber"]
    assert gap["end_sequence_number"] == trimmed["endSequenceNumber"]
    assert gap["missing"] == [{"reason": "trimmed", "after": None, "before": None}]
    assert gap["recovered_records"] == 0 and "TrimmedDataAccessException" in gap["detail"]
    documents = [v[0] for k, v in stored(world, PREFIX).items() if not k.startswith(PREFIX + "gaps/")]
    assert {d["event_id"] for d in documents} == set(transform(ddb_audit_bin, world, 3, 5))
    assert queue_size(world) == 0
    # verify lists the gap as known, not as a problem.
    verify = subprocess.run(
        [str(ddb_audit_bin), "verify", "--bucket", world["bucket"], "--prefix", PREFIX],
        env=tools_env(AWS_ENDPOINT_URL_S3=world["endpoint"], AUDIT_S3_FORCE_PATH_STYLE="true"),
        capture_output=True, text=True, timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"note  {key}: known gap (recorded by ddb-audit recover)" in verify.stdout, verify.stdout
    assert "1 known gap" in verify.stdout and "OK:" in verify.stdout, verify.stdout


# A message that is not a batch description is reported and left in the queue (exit status 1),
# visible again for the next run.
def test_an_unreadable_message_stays_in_the_queue(ddb_audit_bin, world):
    world["sqs"].send_message(QueueUrl=world["queue_url"], MessageBody='{"not": "a batch"}')
    run = recover(ddb_audit_bin, world)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "LEFT IN QUEUE" in run.stdout and "DDBStreamBatchInfo" in run.stdout, run.stdout
    assert queue_size(world) == 1


# A redacting deployment's recovery withholds what the function withholds: with the function's
# AUDIT_REDACT and AUDIT_REDACT_SECRET_ARN in the environment, each recovered document is
# exactly what `transform --redact` renders with the same secret, and no withheld value reaches
# the bucket in clear.
def test_a_redacting_deployment_recovers_redacted(ddb_audit_bin, world, tmp_path):
    secret = "r" * 16 + "0123456789abcdef" * 2
    arn = boto_client("secretsmanager", world["endpoint"]).create_secret(
        Name=f"redaction-{uuid.uuid4().hex[:8]}", SecretString=secret)["ARN"]
    send_failure(world, 0, 5)
    env = dict(AUDIT_REDACT="/total,/blob", AUDIT_REDACT_SECRET_ARN=arn)
    run = recover(ddb_audit_bin, world, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret)
    event = {"Records": [dict(r, eventSourceARN=world["stream_arn"]) for r in world["records"][0:6]]}
    out = subprocess.run([str(ddb_audit_bin), "transform", "--redact", "/total,/blob", "--redact-secret-file",
                          str(secret_file), "-"], input=json.dumps(event), capture_output=True, text=True,
                         check=True)
    expected = {d["event_id"]: d for d in map(json.loads, out.stdout.splitlines())}
    objects = stored(world, PREFIX)
    assert {v[0]["event_id"]: v[0] for v in objects.values()} == expected
    assert expected and all(d.get("redaction") for d in expected.values()), expected
    text = json.dumps(objects)
    assert "12345678901234567890.123" not in text and '"0.50"' not in text, "a withheld value in clear"
