"""Redaction end to end against the local server, with moto's Secrets Manager.

A table keyed by email holds card numbers and phone numbers; every write goes through a real
DynamoDB stream to the real function, which reads its secret from Secrets Manager at cold
start. Then the whole bucket is read back, keys and bodies, and none of those values is
anywhere in it; `verify` passes; the token an auditor computes for one email finds exactly
that customer's documents, and `history` with the deployment's secret finds the item.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, boto_client, make_audit_bucket, tools_env

sys.path.insert(0, str(ROOT / "scripts"))
import workload  # noqa: E402

TABLE = "Customers"
PREFIX = "audit/"
PATHS = "/email,/card/number,/contacts/*/phone"

CUSTOMERS = [
    ("alice@example.com", "4111111111111111", "+81-90-1111-0001"),
    ("bob@example.org", "5500000000000004", "+81-90-1111-0002"),
    ("carol.o'neil@example.net", "340000000000009", "+44-20-7946-0003"),
]


def _s(text):
    return {"S": text}


@pytest.fixture(scope="module")
def secret_arn(moto_endpoint):
    secrets = boto_client("secretsmanager", moto_endpoint)
    created = secrets.create_secret(Name="ddb-audit-redaction", SecretString="k" * 16 + "0123456789abcdef" * 3)
    return created["ARN"]


def _write_customers(dynamodb):
    """Creates the table (keyed by email) and writes, updates and deletes customers."""
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "email", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    for email, card, phone in CUSTOMERS:
        dynamodb.put_item(TableName=TABLE, Item={
            "email": _s(email), "name": _s(email.split("@")[0]),
            "card": {"M": {"number": _s(card), "exp": _s("12/29")}},
            "contacts": {"L": [{"M": {"phone": _s(phone), "kind": _s("mobile")}}]},
            "tier": _s("silver"),
        })
    alice, bob, carol = (c[0] for c in CUSTOMERS)
    # A new card for Alice, a second contact for Bob, Carol leaves.
    dynamodb.update_item(TableName=TABLE, Key={"email": _s(alice)},
                         UpdateExpression="SET card.#n = :n, tier = :t",
                         ExpressionAttributeNames={"#n": "number"},
                         ExpressionAttributeValues={":n": _s("4000000000000002"), ":t": _s("gold")})
    dynamodb.update_item(TableName=TABLE, Key={"email": _s(bob)},
                         UpdateExpression="SET contacts = list_append(contacts, :c)",
                         ExpressionAttributeValues={":c": {"L": [{"M": {"phone": _s("+1-202-555-0199"),
                                                                         "kind": _s("work")}}]}})
    dynamodb.delete_item(TableName=TABLE, Key={"email": _s(carol)})
    return table["LatestStreamArn"]


SECRETS = [v for c in CUSTOMERS for v in c] + ["4000000000000002", "+1-202-555-0199"]


@pytest.fixture(scope="module")
def stored(moto_endpoint, lambda_binary, secret_arn, tmp_path_factory):
    """Runs the customers through the stream and the redacting function; returns every
    object of the bucket as (key, text)."""
    from conftest import LambdaWatch

    dynamodb = boto_client("dynamodb", moto_endpoint)
    s3 = boto_client("s3", moto_endpoint)
    bucket = make_audit_bucket(s3)
    stream_arn = _write_customers(dynamodb)
    records = workload.read_stream(boto_client("dynamodbstreams", moto_endpoint), stream_arn)
    assert len(records) == 6, records
    watch = LambdaWatch(moto_endpoint, tmp_path_factory.mktemp("watch"))
    watch.set_env(AUDIT_BUCKET=bucket, AUDIT_PREFIX=PREFIX, AUDIT_REDACT=PATHS,
                  AUDIT_REDACT_SECRET_ARN=secret_arn, AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint)
    try:
        for event in workload.lambda_events(records, stream_arn, batch=4):
            assert watch.invoke(event).get("batchItemFailures", []) == []
        logs = watch.logs()
    finally:
        watch.stop()
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
            if entry["Key"].endswith(".gz"):
                body = gzip.decompress(body)
            objects.append((entry["Key"], body.decode("utf-8")))
    return {"bucket": bucket, "objects": objects, "logs": logs, "records": records}


def _cli(moto_endpoint, rust_binaries, *args):
    binary = rust_binaries["ddb-audit"]
    env = tools_env(AWS_ENDPOINT_URL_S3=moto_endpoint, AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint,
                    AUDIT_S3_FORCE_PATH_STYLE="true")
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=120)


def test_no_redacted_value_is_anywhere_in_the_bucket_or_the_logs(stored):
    """Every key and every body of the bucket, and the function's logs: none of the emails,
    card numbers or phone numbers, one document per record, each saying what it withheld."""
    assert len(stored["objects"]) == len(stored["records"])
    for key, text in stored["objects"]:
        for secret in SECRETS:
            assert secret not in key, (secret, key)
            assert secret not in text, (secret, key)
        doc = json.loads(text)
        assert doc["redaction"]["paths"] == PATHS.split(","), doc
        assert "/item=hmac-" in key, key
    for secret in SECRETS:
        assert secret not in stored["logs"], secret
    # What is not redacted is still there to audit.
    texts = "\n".join(text for _, text in stored["objects"])
    assert '"gold"' in texts and '"work"' in texts


def test_verify_passes_on_the_redacted_trail(stored, moto_endpoint, rust_binaries):
    out = _cli(moto_endpoint, rust_binaries, "verify", "--bucket", stored["bucket"], "--prefix", PREFIX)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(stored['records'])} objects" in out.stdout


def test_an_emails_token_finds_exactly_that_customers_documents(stored, secret_arn, moto_endpoint, rust_binaries):
    """`ddb-audit token` computes what the function stored; it is in Alice's documents and
    no one else's, and `history` with the deployment's secret finds her item."""
    alice = CUSTOMERS[0][0]
    out = _cli(moto_endpoint, rust_binaries, "token", "--secret-arn", secret_arn, "--value", json.dumps(_s(alice)))
    assert out.returncode == 0, out.stderr
    token = json.loads(out.stdout.splitlines()[0])["REDACTED"]["hmac"]
    holding = [json.loads(text) for _, text in stored["objects"] if token in text]
    assert len(holding) == 2 and {d["event_name"] for d in holding} == {"INSERT", "MODIFY"}
    history = _cli(moto_endpoint, rust_binaries, "history", "--bucket", stored["bucket"], "--prefix", PREFIX,
                   "--table", TABLE, "--key", f"email={alice}",
                   "--redact", PATHS, "--redact-secret-arn", secret_arn)
    assert history.returncode == 0, history.stderr
    assert "2 records" in history.stdout and "/tier: \"silver\" → \"gold\"" in history.stdout, history.stdout
    assert "/card/number: ‹redacted·" in history.stdout, history.stdout
    assert alice not in history.stdout
    # `changes --value` takes the token as a typed value: the change that set Alice's email
    # (her INSERT) is the one found.
    typed_token = out.stdout.splitlines()[0]
    changes = _cli(moto_endpoint, rust_binaries, "changes", "--bucket", stored["bucket"], "--prefix", PREFIX,
                   "--table", TABLE, "--since", "2000-01-01T00:00:00Z", "--path", "/email",
                   "--value", typed_token)
    assert changes.returncode == 0, changes.stderr
    assert "; 1 matched in 1 items;" in changes.stdout, changes.stdout
    assert "INSERT" in changes.stdout and alice not in changes.stdout, changes.stdout
