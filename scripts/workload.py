"""A scripted, deterministic DynamoDB workload and the plumbing around it.

Used by the end-to-end test (tests/py/test_end_to_end.py) and by scripts/demo:

- create_table: a table (pk S, sk N) with a NEW_AND_OLD_IMAGES stream;
- run: puts, nested-map updates, list appends and removals, string/number/binary set ADD
  and DELETE, 38-digit numbers, binary, deletes and re-creation of deleted items, with the
  item's state read back (consistent GetItem) after every write, and phase boundaries:
  instants that lie strictly between two phases' stream records;
- read_stream: every record of every shard (DescribeStream, GetShardIterator TRIM_HORIZON,
  GetRecords), kept as the raw JSON the service sent (boto3 would turn
  ApproximateCreationDateTime into a datetime and lose its exact text);
- lambda_events: the records wrapped as Lambda wraps them (eventSourceARN added).

Only the standard library and boto3. The random choices are seeded, so two runs issue the
same writes; the stream's event ids and times differ, as they would on AWS.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

KEY_SCHEMA = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "sk", "AttributeType": "N"},
]

CITIES = ["Osaka", "Kyoto", "Lyon", "Porto", "Tromsø", "Zürich", "Nairobi", "Quito"]
STATUSES = ["PENDING", "PAID", "PACKED", "SHIPPED", "DELIVERED", "RETURNED"]
TAGS = ["gift", "fragile", "express", "bulk", "vip", "eco", "late"]


def rfc3339(epoch: float) -> str:
    """Epoch seconds as RFC 3339 UTC with milliseconds, e.g. 2026-11-27T02:31:40.123Z."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def create_table(dynamodb, name: str) -> str:
    """Creates the table with a NEW_AND_OLD_IMAGES stream; returns the stream ARN."""
    out = dynamodb.create_table(
        TableName=name,
        KeySchema=KEY_SCHEMA,
        AttributeDefinitions=ATTRIBUTES,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return out["TableDescription"]["LatestStreamArn"]


def item_keys(count: int) -> list[dict]:
    """The items' typed keys: ordinary ones plus a few awkward ones (/, Unicode, 38 digits)."""
    keys = [{"pk": {"S": f"ORDER#{i:03d}"}, "sk": {"N": str(i % 3)}} for i in range(count - 3)]
    keys.append({"pk": {"S": "tenant/a b,c=d"}, "sk": {"N": "-1.5"}})
    keys.append({"pk": {"S": "注文#ü"}, "sk": {"N": "0"}})
    keys.append({"pk": {"S": "BIG"}, "sk": {"N": "12345678901234567890123456789012345678"}})
    return keys


def key_id(key: dict) -> str:
    """A hashable, stable identity for a typed key."""
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


def shorthand(key: dict) -> str:
    """A typed key as `ddb-audit --key` shorthand: NAME:TYPE=VALUE, with `\\ , = :` escaped."""
    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(":", "\\:")

    parts = []
    for name, typed in key.items():
        (kind, value), = typed.items()
        parts.append(esc(name) + ("" if kind == "S" else f":{kind}") + "=" + esc(value))
    return ",".join(parts)


@dataclass
class Boundary:
    """An instant between two phases, and every item's state then (None: absent)."""

    at: str
    states: dict[str, dict | None]


@dataclass
class Workload:
    table: str
    keys: list[dict]
    writes: int = 0
    boundaries: list[Boundary] = field(default_factory=list)
    # Every write: (key id, operation name, state after it, epoch seconds after it returned).
    log: list[tuple[str, str, dict | None, float]] = field(default_factory=list)


class _Gen:
    """Deterministic values."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def big(self) -> str:
        # 38 significant digits, sometimes as a fraction, sometimes negative.
        digits = str(self.rng.randrange(10**37, 10**38))
        shape = self.rng.randrange(3)
        if shape == 0:
            return digits
        if shape == 1:
            return f"{digits[:5]}.{digits[5:]}"
        return f"-0.{digits}"

    def money(self) -> str:
        return f"{self.rng.randrange(1, 100000)}.{self.rng.randrange(100):02d}"

    def blob(self) -> bytes:
        # boto3 takes binary as bytes and base64-encodes it on the wire (and decodes it back).
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 24)))

    def line(self) -> dict:
        return {"M": {"sku": {"S": f"SKU-{self.rng.randrange(1000):03d}"}, "qty": {"N": str(self.rng.randrange(1, 9))}}}

    def item(self, key: dict) -> dict:
        r = self.rng
        item = dict(key)
        item.update(
            {
                "status": {"S": r.choice(STATUSES)},
                "total": {"N": self.money()},
                "precise": {"N": self.big()},
                "blob": {"B": self.blob()},
                "tags": {"SS": sorted(set(r.sample(TAGS, r.randrange(1, 4))))},
                "scores": {"NS": sorted({str(r.randrange(100)) for _ in range(r.randrange(1, 4))})},
                "address": {
                    "M": {
                        "city": {"S": r.choice(CITIES)},
                        "geo": {"M": {"lat": {"N": f"{r.uniform(-90, 90):.6f}"}, "lon": {"N": f"{r.uniform(-180, 180):.6f}"}}},
                    }
                },
                "lines": {"L": [self.line() for _ in range(r.randrange(0, 3))]},
                "gift": {"BOOL": r.random() < 0.5},
                "note": {"NULL": True},
                "counter": {"N": "0"},
            }
        )
        return item


def _update(dynamodb, table, key, expr, values=None):
    """UpdateItem; `@name` in `expr` is an attribute name (many, like `lines`, are reserved words)."""
    names = {f"#{n}": n for n in re.findall(r"@(\w+)", expr)}
    args = {"TableName": table, "Key": key, "UpdateExpression": re.sub(r"@(\w+)", r"#\1", expr)}
    if values:
        args["ExpressionAttributeValues"] = values
    if names:
        args["ExpressionAttributeNames"] = names
    dynamodb.update_item(**args)


def _write(dynamodb, table: str, key: dict, state: dict | None, gen: _Gen) -> str:
    """Issues one write chosen from the item's state; returns the operation's name."""
    r = gen.rng
    if state is None:
        dynamodb.put_item(TableName=table, Item=gen.item(key))
        return "put"
    ops = [
        ("set-nested-map", 14),
        ("list-append", 10),
        ("list-remove", 8),
        ("ss-add", 8),
        ("ss-delete", 8),
        ("ns-add", 6),
        ("ns-delete", 5),
        ("bs-add", 4),
        ("bs-delete", 3),
        ("set-big-number", 8),
        ("add-counter", 6),
        ("set-binary", 5),
        ("set-and-remove", 6),
        ("overwrite", 4),
        ("delete", 6),
    ]
    op = r.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
    if op == "set-nested-map":
        if "address" in state:
            _update(dynamodb, table, key, "SET @address.@city = :c, @address.@geo.@lat = :lat, @status = :s",
                    {":c": {"S": r.choice(CITIES)}, ":lat": {"N": f"{r.uniform(-90, 90):.6f}"}, ":s": {"S": r.choice(STATUSES)}},
                    )
        else:
            _update(dynamodb, table, key, "SET @address = :a",
                    {":a": {"M": {"city": {"S": r.choice(CITIES)}, "geo": {"M": {"lat": {"N": "1.5"}}}}}})
    elif op == "list-append":
        new = {"L": [gen.line() for _ in range(r.randrange(1, 3))]}
        _update(dynamodb, table, key, "SET @lines = list_append(if_not_exists(@lines, :empty), :new)",
                {":new": new, ":empty": {"L": []}})
    elif op == "list-remove":
        n = len(state.get("lines", {}).get("L", []))
        if n:
            _update(dynamodb, table, key, f"REMOVE @lines[{r.randrange(n)}]")
        else:
            _update(dynamodb, table, key, "SET @lines = :l", {":l": {"L": [gen.line()]}})
    elif op == "ss-add":
        _update(dynamodb, table, key, "ADD @tags :t", {":t": {"SS": sorted(set(r.sample(TAGS, r.randrange(1, 3))))}})
    elif op == "ss-delete":
        _update(dynamodb, table, key, "DELETE @tags :t", {":t": {"SS": sorted(set(r.sample(TAGS, r.randrange(1, 4))))}})
    elif op == "ns-add":
        _update(dynamodb, table, key, "ADD @scores :n", {":n": {"NS": [str(r.randrange(100)), gen.big()]}})
    elif op == "ns-delete":
        current = state.get("scores", {}).get("NS", [])
        victims = r.sample(current, min(len(current), r.randrange(1, 3))) if current else ["1"]
        _update(dynamodb, table, key, "DELETE @scores :n", {":n": {"NS": victims}})
    elif op == "bs-add":
        _update(dynamodb, table, key, "ADD @blobs :b", {":b": {"BS": [gen.blob()]}})
    elif op == "bs-delete":
        current = state.get("blobs", {}).get("BS", [])
        victims = current[:1] if current else [gen.blob()]
        _update(dynamodb, table, key, "DELETE @blobs :b", {":b": {"BS": victims}})
    elif op == "set-big-number":
        _update(dynamodb, table, key, "SET @precise = :p, @total = :t", {":p": {"N": gen.big()}, ":t": {"N": gen.money()}})
    elif op == "add-counter":
        _update(dynamodb, table, key, "ADD @counter :one", {":one": {"N": str(r.randrange(1, 5))}})
    elif op == "set-binary":
        _update(dynamodb, table, key, "SET @blob = :b", {":b": {"B": gen.blob()}})
    elif op == "set-and-remove":
        if "note" in state:
            _update(dynamodb, table, key, "REMOVE @note SET @gift = :g", {":g": {"BOOL": r.random() < 0.5}})
        else:
            _update(dynamodb, table, key, "SET @note = :n", {":n": {"S": f"call before {r.randrange(8, 18)}h"}})
    elif op == "overwrite":
        dynamodb.put_item(TableName=table, Item=gen.item(key))
    elif op == "delete":
        dynamodb.delete_item(TableName=table, Key=key)
    return op


def _wait_for_boundary() -> str:
    """Returns an instant strictly between the last write and the next one, and waits past it.

    The stream stamps records with the server's clock: moto in milliseconds, DynamoDB
    sometimes in whole seconds. The boundary is the last millisecond before the next whole
    second that is at least ~0.05 s away, and the next phase starts after that second began,
    so every earlier record's time is <= the boundary and every later one's is > it, even
    if times are truncated to whole seconds.
    """
    end = time.time()
    second = math.floor(end + 0.05) + 1
    boundary = second - 0.001
    time.sleep(max(0.0, second + 0.05 - time.time()))
    return rfc3339(boundary)


def run(dynamodb, table: str, *, items: int = 32, writes: int = 540, phases: int = 6, seed: int = 7,
        verbose: bool = False, writers: list | None = None, after_write=None) -> Workload:
    """Runs the workload; records every item's state after each write and at each boundary.

    `writers`: clients that take turns making the writes (each its own principal, see
    scripts/calltrail.py); reads stay on `dynamodb`. `after_write(key, state)` runs after each
    write (calltrail.extras: unchanged and failing writes)."""
    gen = _Gen(seed)
    keys = item_keys(items)
    work = Workload(table=table, keys=keys)
    states: dict[str, dict | None] = {key_id(k): None for k in keys}
    per_phase = math.ceil(writes / phases)
    for phase in range(phases):
        for _ in range(per_phase):
            if work.writes >= writes:
                break
            key = gen.rng.choice(keys)
            kid = key_id(key)
            writer = writers[work.writes % len(writers)] if writers else dynamodb
            op = _write(writer, table, key, states[kid], gen)
            got = dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
            states[kid] = got
            if after_write:
                after_write(key, got)
            work.writes += 1
            work.log.append((kid, op, got, time.time()))
        work.boundaries.append(Boundary(at=_wait_for_boundary(), states=dict(states)))
        if verbose:
            print(f"phase {phase + 1}/{phases}: {work.writes} writes", flush=True)
    return work


def read_stream(dynamodbstreams, stream_arn: str) -> list[dict]:
    """Every record of every shard, oldest first per shard, as the raw JSON the service sent."""
    raw_pages: list[bytes] = []

    def keep_raw(http_response, **_):
        raw_pages.append(http_response.content)

    events = dynamodbstreams.meta.events
    events.register("after-call.dynamodbstreams.GetRecords", keep_raw)
    try:
        shards, start = [], None
        while True:
            args = {"StreamArn": stream_arn}
            if start:
                args["ExclusiveStartShardId"] = start
            desc = dynamodbstreams.describe_stream(**args)["StreamDescription"]
            shards.extend(desc["Shards"])
            start = desc.get("LastEvaluatedShardId")
            if not start:
                break
        records: list[dict] = []
        for shard in shards:
            iterator = dynamodbstreams.get_shard_iterator(
                StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                raw_pages.clear()
                out = dynamodbstreams.get_records(ShardIterator=iterator, Limit=1000)
                page = json.loads(raw_pages[-1])
                records.extend(page.get("Records", []))
                # A closed shard ends with no iterator; an open one with an empty page.
                if not out.get("Records"):
                    break
                iterator = out.get("NextShardIterator")
        return records
    finally:
        events.unregister("after-call.dynamodbstreams.GetRecords", keep_raw)


def lambda_events(records: list[dict], stream_arn: str, batch: int = 100) -> list[dict]:
    """The records as Lambda delivers them: `{"Records": [...]}`, eventSourceARN added."""
    wrapped = [dict(r, eventSourceARN=stream_arn) for r in records]
    return [{"Records": wrapped[i:i + batch]} for i in range(0, len(wrapped), batch)]


def create_audit_bucket(s3, name: str, retention_days: int = 1) -> None:
    """An Object Lock bucket (versioning on) with a default GOVERNANCE retention, like the template's."""
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": retention_days}},
        },
    )


def _demo(argv: list[str]) -> int:
    """`python scripts/workload.py demo ENDPOINT OUTDIR`: what scripts/demo needs, as files.

    Creates the audit bucket and the table, runs a short workload, reads the stream and writes
    OUTDIR/event-NN.json (Lambda events) and OUTDIR/info.json (the item to show, times).
    """
    import boto3
    from pathlib import Path

    endpoint, out = argv[0], Path(argv[1])
    bucket, table = "ddb-audit-demo", "Orders"
    clients = {n: boto3.client(n, endpoint_url=endpoint) for n in ["s3", "dynamodb", "dynamodbstreams"]}
    create_audit_bucket(clients["s3"], bucket)
    arn = create_table(clients["dynamodb"], table)
    # Two principals take turns writing; what CloudTrail would log goes to a trail bucket.
    import calltrail

    account, region = arn.split(":")[4], arn.split(":")[3]
    recorder = calltrail.Recorder(account=account, region=region)
    writers = [recorder.client(p, endpoint) for p in [
        calltrail.iam_user("order-service", account, "AKIAORDERSERVICE0001", "10.0.3.7"),
        calltrail.assumed_role("Support", "bob", account, "ASIASUPPORTBOB000002", "198.51.100.24")]]
    work = run(clients["dynamodb"], table, items=8, writes=60, phases=3, seed=11, writers=writers)
    trail_bucket = f"{bucket}-trail"
    clients["s3"].create_bucket(Bucket=trail_bucket)
    calltrail.deliver(clients["s3"], trail_bucket, recorder.calls, account, region)
    records = read_stream(clients["dynamodbstreams"], arn)
    events = lambda_events(records, arn, batch=25)
    for i, event in enumerate(events):
        (out / f"event-{i:02d}.json").write_text(json.dumps(event))
    # Show the item with the most changes that still exists at the end.
    counts: dict[str, int] = {}
    for r in records:
        kid = key_id(r["dynamodb"]["Keys"])
        counts[kid] = counts.get(kid, 0) + 1
    final = work.boundaries[-1].states
    kid = max((k for k in counts if final.get(k) is not None), key=lambda k: counts[k])
    (out / "info.json").write_text(json.dumps({
        "bucket": bucket, "trail_bucket": trail_bucket, "table": table, "key": json.loads(kid), "key_arg": shorthand(json.loads(kid)),
        "records": len(records),
        "batches": len(events), "writes": work.writes, "replay_at": work.boundaries[0].at,
    }, ensure_ascii=False))
    return 0


def _tamper(argv: list[str]) -> int:
    """`python scripts/workload.py tamper ENDPOINT BUCKET`: what an intruder might do.

    Rewrites the 3rd audit object (a second version, as any write to a versioned bucket makes)
    and deletes the 3rd from last (a delete marker: Object Lock allows that, and keeps the
    locked version underneath).
    """
    import boto3

    endpoint, bucket = argv
    s3 = boto3.client("s3", endpoint_url=endpoint)
    keys = sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="audit/")
                  for o in page.get("Contents", []))
    body = s3.get_object(Bucket=bucket, Key=keys[2])["Body"].read()
    s3.put_object(Bucket=bucket, Key=keys[2], Body=body.replace(b'"ttl_expiry":false', b'"ttl_expiry":true'),
                  ChecksumAlgorithm="SHA256")
    s3.delete_object(Bucket=bucket, Key=keys[-3])
    return 0


if __name__ == "__main__":
    import sys

    if len(sys.argv) >= 4 and sys.argv[1] == "demo":
        sys.exit(_demo(sys.argv[2:]))
    if len(sys.argv) >= 4 and sys.argv[1] == "tamper":
        sys.exit(_tamper(sys.argv[2:]))
    print("usage: workload.py demo ENDPOINT OUTDIR | workload.py tamper ENDPOINT BUCKET", file=sys.stderr)
    sys.exit(2)
