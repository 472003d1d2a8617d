"""What CloudTrail would log for the workload's DynamoDB writes, written as a real trail.

Used by the end-to-end proof of callers (tests/py/test_callers_end_to_end.py) and by
scripts/demo. moto records no CloudTrail, so:

- Principal: a writer (an IAM user or an assumed-role session) with its own access key. Its
  boto3 client is hooked (botocore events) so that every write call it makes, failed
  conditional writes and writes that change nothing included, is recorded as the DynamoDB
  data event CloudTrail would log: eventTime (the second the call returned), userIdentity,
  sourceIPAddress, userAgent, requestID, requestParameters (tableName; key as plain JSON
  values; PutItem's attribute names; UpdateItem's updateExpression and names; never a value),
  errorCode on failure, resources[].ARN.
- Extras: the workload's hook between writes that sometimes writes an item back unchanged
  (no stream record on DynamoDB) or makes a conditional write that fails.
- deliver: the events as gzip log files under AWS's naming
  (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz),
  each delivered 1 to 7 minutes after its call, a few 16 to 25 minutes late with an
  `addendum` (DELIVERY_DELAY), one delivered twice.

Only the standard library and boto3.
"""

from __future__ import annotations

import base64
import gzip
import json
import platform
import random
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import boto3
import botocore

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def plain(typed: dict):
    """A typed key value as CloudTrail shows it: plain JSON (numbers as numbers, binary as base64)."""
    (kind, value), = typed.items()
    if kind == "N":
        return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
    if kind == "B":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return value


def event_time(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Principal:
    name: str
    arn: str
    identity: dict
    access_key: str
    source_ip: str


def iam_user(name: str, account: str, access_key: str, ip: str) -> Principal:
    arn = f"arn:aws:iam::{account}:user/{name}"
    return Principal(name, arn, {"type": "IAMUser", "principalId": f"AIDA{name.upper()}EXAMPLE",
                                 "arn": arn, "accountId": account, "accessKeyId": access_key,
                                 "userName": name}, access_key, ip)


def assumed_role(role: str, session: str, account: str, access_key: str, ip: str) -> Principal:
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    return Principal(session, arn, {
        "type": "AssumedRole", "principalId": f"AROA{role.upper()}EXAMPLE:{session}", "arn": arn,
        "accountId": account, "accessKeyId": access_key,
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROA{role.upper()}EXAMPLE",
                                             "arn": f"arn:aws:iam::{account}:role/{role}",
                                             "accountId": account, "userName": role},
                           "attributes": {"mfaAuthenticated": "false"}}}, access_key, ip)


@dataclass
class Call:
    """One write call and the event CloudTrail would log for it."""

    principal: str
    operation: str
    key_id: str
    ok: bool
    event: dict


@dataclass
class Recorder:
    """Records the write calls of every client it is attached to, in call order."""

    account: str
    region: str
    key_names: tuple[str, ...] = ("pk", "sk")
    calls: list[Call] = field(default_factory=list)

    def client(self, principal: Principal, endpoint: str):
        """A DynamoDB client with the principal's own access key, recording its writes."""
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=self.region,
                              aws_access_key_id=principal.access_key,
                              aws_secret_access_key="secret-" + principal.access_key)

        def params(params, model, context, **_):
            context["ct_params"] = dict(params)

        def after(http_response, parsed, model, context, **_):
            if model.name in WRITES:
                self._record(principal, model.name, context.get("ct_params", {}), parsed)

        client.meta.events.register("provide-client-params.dynamodb.*", params)
        client.meta.events.register("after-call.dynamodb.*", after)
        return client

    def _key(self, params: dict) -> dict:
        key = params.get("Key") or {n: params["Item"][n] for n in self.key_names if n in params.get("Item", {})}
        return key

    def _record(self, principal: Principal, operation: str, params: dict, parsed: dict) -> None:
        import time

        key = self._key(params)
        request = {"tableName": params["TableName"], "key": {n: plain(v) for n, v in key.items()}}
        if operation == "PutItem":
            request["item"] = sorted(params["Item"])
        if operation == "UpdateItem":
            request["updateExpression"] = params["UpdateExpression"]
            if "ExpressionAttributeNames" in params:
                request["expressionAttributeNames"] = params["ExpressionAttributeNames"]
        if "ConditionExpression" in params:
            request["conditionExpression"] = params["ConditionExpression"]
        error = parsed.get("Error", {}).get("Code")
        event = {
            "eventVersion": "1.09", "userIdentity": principal.identity, "eventTime": event_time(time.time()),
            "eventSource": "dynamodb.amazonaws.com", "eventName": operation, "awsRegion": self.region,
            "sourceIPAddress": principal.source_ip,
            "userAgent": f"Boto3/{boto3.__version__} md/Botocore#{botocore.__version__} Python/{platform.python_version()}",
            "requestParameters": request, "responseElements": None,
            "requestID": parsed.get("ResponseMetadata", {}).get("RequestId") or uuid.uuid4().hex.upper(),
            "eventID": str(uuid.uuid4()), "readOnly": False,
            "resources": [{"accountId": self.account, "type": "AWS::DynamoDB::Table",
                           "ARN": f"arn:aws:dynamodb:{self.region}:{self.account}:table/{params['TableName']}"}],
            "eventType": "AwsApiCall", "apiVersion": "2012-08-10", "managementEvent": False,
            "recipientAccountId": self.account, "eventCategory": "Data",
        }
        if error:
            event["errorCode"] = error
            event["errorMessage"] = parsed.get("Error", {}).get("Message", "")
        kid = json.dumps(key, sort_keys=True, ensure_ascii=False, default=lambda b: base64.b64encode(b).decode())
        self.calls.append(Call(principal.arn, operation, kid, error is None, event))


def extras(writers: list, table: str, seed: int = 3, rate: float = 0.12):
    """A workload hook (workload.run's `after_write`): now and then, after a write, a second
    writer writes the item back unchanged (DynamoDB: a CloudTrail event and no stream record)
    or makes a conditional write that fails (an event with errorCode, and no change)."""
    rng = random.Random(seed)

    def hook(key: dict, state: dict | None) -> None:
        roll = rng.random()
        client = rng.choice(writers)
        if roll < rate / 2 and state is not None:
            client.put_item(TableName=table, Item=state)
        elif roll < rate:
            try:
                if state is None:
                    client.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :s",
                                       ExpressionAttributeNames={"#s": "status"},
                                       ExpressionAttributeValues={":s": {"S": "NEVER"}},
                                       ConditionExpression="attribute_exists(pk)")
                else:
                    client.put_item(TableName=table, Item=state, ConditionExpression="attribute_not_exists(pk)")
            except client.exceptions.ConditionalCheckFailedException:
                pass

    return hook


def deliver(s3, bucket: str, calls: list[Call], account: str, region: str, seed: int = 5,
            prefix: str = "") -> list[str]:
    """Writes the calls' events as CloudTrail log files; returns the keys written."""
    rng = random.Random(seed)
    files: dict[int, list[dict]] = {}
    for i, call in enumerate(calls):
        called = datetime.strptime(call.event["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        event = dict(call.event)
        if rng.random() < 0.03:
            delay = rng.randrange(16 * 60, 25 * 60)
            event["addendum"] = {"reason": "DELIVERY_DELAY"}
        else:
            delay = rng.randrange(60, 7 * 60)
        minute = (int(called.timestamp()) + delay) // 60
        files.setdefault(minute, []).append(event)
        if i == len(calls) // 2:
            # Delivered twice (a file written again later): the reader counts it once.
            files.setdefault(minute + 3, []).append(event)
    keys = []
    for minute, events in sorted(files.items()):
        at = datetime.fromtimestamp(minute * 60, tz=timezone.utc)
        unique = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(16))
        key = (f"{prefix}AWSLogs/{account}/CloudTrail/{region}/{at:%Y/%m/%d}/"
               f"{account}_CloudTrail_{region}_{at:%Y%m%dT%H%MZ}_{unique}.json.gz")
        s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(json.dumps({"Records": events}).encode()))
        keys.append(key)
    return keys
