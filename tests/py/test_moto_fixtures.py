"""The moto behaviour ddb-audit relies on, proved against the shared fixtures.

If a moto upgrade changes any of this, these tests say so before the function's own tests fail
in a confusing way.
"""

import base64
import datetime
import hashlib

import pytest
from botocore.exceptions import ClientError


def _put(s3, bucket, key, body, **kw):
    # Object Lock buckets refuse writes without a checksum; the function sends SHA-256.
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256", **kw)


# A second conditional put of an existing key is refused with 412: the function counts that as
# "already written", which is what makes re-delivered batches free.
def test_second_put_with_if_none_match_star_is_412(s3, audit_bucket):
    _put(s3, audit_bucket, "audit/doc.json", b"{}", IfNoneMatch="*")
    with pytest.raises(ClientError) as err:
        _put(s3, audit_bucket, "audit/doc.json", b'{"other":1}', IfNoneMatch="*")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    versions = s3.list_object_versions(Bucket=audit_bucket, Prefix="audit/doc.json")["Versions"]
    assert len(versions) == 1
    assert s3.get_object(Bucket=audit_bucket, Key="audit/doc.json")["Body"].read() == b"{}"


# An object in the audit bucket gets the bucket's default retention, visible in head_object
# (moto's get_object_retention fails in server mode, so verify must read it there).
def test_head_object_shows_object_lock_of_locked_bucket(s3, audit_bucket):
    before = datetime.datetime.now(datetime.timezone.utc)
    _put(s3, audit_bucket, "audit/locked.json", b"{}")
    head = s3.head_object(Bucket=audit_bucket, Key="audit/locked.json")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    one_day = datetime.timedelta(days=1)
    assert before + one_day - datetime.timedelta(minutes=1) <= until
    assert until <= before + one_day + datetime.timedelta(minutes=5)


# A bucket without Object Lock reports no lock, so the previous test is not vacuous.
def test_head_object_shows_no_lock_on_plain_bucket(s3):
    s3.create_bucket(Bucket="plain-bucket-no-lock")
    _put(s3, "plain-bucket-no-lock", "x.json", b"{}")
    head = s3.head_object(Bucket="plain-bucket-no-lock", Key="x.json")
    assert "ObjectLockMode" not in head
    assert "ObjectLockRetainUntilDate" not in head


# S3 keeps the SHA-256 the writer sent and returns it on request: verify compares it with the
# content it reads back.
def test_sha256_checksum_is_stored_and_returned(s3, audit_bucket):
    body = b'{"schema":"ddb-audit/1"}'
    _put(s3, audit_bucket, "audit/sum.json", body)
    head = s3.head_object(Bucket=audit_bucket, Key="audit/sum.json", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


# An unconditional overwrite in a versioned bucket keeps the old version: this is how verify and
# replay notice that an object was overwritten behind the trail's back.
def test_overwrite_keeps_both_versions(s3, audit_bucket):
    _put(s3, audit_bucket, "audit/v.json", b"1")
    _put(s3, audit_bucket, "audit/v.json", b"2")
    versions = s3.list_object_versions(Bucket=audit_bucket, Prefix="audit/v.json")["Versions"]
    assert len(versions) == 2
    assert sum(v["IsLatest"] for v in versions) == 1


# moto's stream gives INSERT/MODIFY/REMOVE records with every field Lambda delivers except
# eventSourceARN, which the end-to-end test must add when it wraps records into events.
def test_dynamodb_stream_records_lack_only_event_source_arn(dynamodb, dynamodbstreams):
    table = dynamodb.create_table(
        TableName="StreamProbe",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    arn = table["TableDescription"]["LatestStreamArn"]
    key = {"pk": {"S": "ORDER#1"}, "sk": {"S": "META"}}
    dynamodb.put_item(TableName="StreamProbe", Item={**key, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName="StreamProbe",
        Key=key,
        UpdateExpression="SET n = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    dynamodb.delete_item(TableName="StreamProbe", Key=key)

    shard = dynamodbstreams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    it = dynamodbstreams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = dynamodbstreams.get_records(ShardIterator=it)["Records"]

    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for r in records:
        assert "eventSourceARN" not in r
        assert {"eventID", "eventVersion", "eventSource", "awsRegion"} <= r.keys()
        assert {"Keys", "SequenceNumber", "SizeBytes", "StreamViewType"} <= r["dynamodb"].keys()
    assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
    assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
