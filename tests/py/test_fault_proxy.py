"""The fault proxy (fault_proxy.py) injects what it claims to, against a real moto S3.

Each test forces one fault with a plan whose probability for it is 1 and checks what a plain
boto3 client (no retries) sees and what moto stored.
"""

import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from conftest import REGION, make_audit_bucket
from fault_proxy import FaultPlan, FaultProxy

NO_FAULTS = dict(error500=0, slowdown503=0, reset_before=0, reset_after=0, latency=0, hold=0, dark=0)


def client(endpoint):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                      read_timeout=10),
    )


@pytest.fixture
def moto_port(moto_endpoint):
    return int(moto_endpoint.rsplit(":", 1)[1])


# Guards the schedule's determinism: a request's fault depends on the seed and the request,
# never on arrival order.
def test_the_schedule_is_a_function_of_seed_and_request():
    plan = FaultPlan(7, error500=0.5)
    draws = [plan.draw("PUT", f"/b/k{i}", 0)[0] for i in range(50)]
    assert draws == [FaultPlan(7, error500=0.5).draw("PUT", f"/b/k{i}", 0)[0] for i in range(50)]
    assert draws != [FaultPlan(8, error500=0.5).draw("PUT", f"/b/k{i}", 0)[0] for i in range(50)]


# Guards the ambiguous write: after a reset following the forward, the client sees a broken
# connection, yet the object is stored, and the proxy records it as landed.
def test_a_reset_after_forwarding_loses_the_answer_not_the_write(moto_endpoint, moto_port):
    bucket = make_audit_bucket(client(moto_endpoint))
    with FaultProxy(moto_port, FaultPlan(1, **dict(NO_FAULTS, reset_after=1.0))) as proxy:
        with pytest.raises((BotoConnectionError, HTTPClientError)):
            client(proxy.endpoint).put_object(Bucket=bucket, Key="k", Body=b"x", IfNoneMatch="*")
    assert client(moto_endpoint).get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert [p.key for p in proxy.state.landed] == [f"/{bucket}/k"]
    assert proxy.state.injected["reset_after"] >= 1  # the client may try again itself


# Guards S3's 409: a conditional PUT of a key that another PUT is still writing (here: held)
# is answered ConditionalRequestConflict; the held write lands afterwards.
def test_a_conditional_put_during_another_put_of_the_key_gets_409(moto_endpoint, moto_port):
    bucket = make_audit_bucket(client(moto_endpoint))
    plan = FaultPlan(1, **dict(NO_FAULTS, hold=1.0), hold_seconds=1.5, max_holds=1)
    with FaultProxy(moto_port, plan) as proxy:
        s3 = client(proxy.endpoint)
        held = threading.Thread(target=s3.put_object, kwargs=dict(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*"))
        held.start()
        while not proxy.state.in_flight:
            pass
        with pytest.raises(ClientError) as conflict:
            s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
        held.join()
        proxy.wait_idle(5)
    assert conflict.value.response["Error"]["Code"] == "ConditionalRequestConflict"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert client(moto_endpoint).get_object(Bucket=bucket, Key="k")["Body"].read() == b"1"


# Guards the answered errors: 503 SlowDown and 500 reach the client as S3 error codes, and
# nothing is forwarded.
@pytest.mark.parametrize("kind, status, code", [("slowdown503", 503, "SlowDown"), ("error500", 500, "InternalError")])
def test_error_answers_carry_s3_codes_and_store_nothing(moto_endpoint, moto_port, kind, status, code):
    bucket = make_audit_bucket(client(moto_endpoint))
    with FaultProxy(moto_port, FaultPlan(1, **dict(NO_FAULTS, **{kind: 1.0}))) as proxy:
        with pytest.raises(ClientError) as error:
            client(proxy.endpoint).put_object(Bucket=bucket, Key="k", Body=b"x", IfNoneMatch="*")
    assert error.value.response["Error"]["Code"] == code
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert proxy.state.landed == []
    assert "Versions" not in client(moto_endpoint).list_object_versions(Bucket=bucket)
