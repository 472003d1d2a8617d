"""The lambda_watch fixture: the real function, run by `cargo lambda watch`, answers an invoke."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# The function answers a sample event with a DynamoDB partial batch response (no failures for
# a well-formed batch written to a healthy bucket); this proves the watch/invoke plumbing, the
# environment the fixture passes, and that the binary is a real Lambda function.
def test_function_answers_an_invoke_with_a_batch_response(lambda_watch, audit_bucket):
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket)
    response = lambda_watch.invoke("events/insert.json")
    assert response == {"batchItemFailures": []}, lambda_watch.logs()


# A dict event is accepted as well as a file.
def test_invoke_accepts_a_dict_event(lambda_watch, audit_bucket):
    lambda_watch.set_env(AUDIT_BUCKET=audit_bucket)
    event = json.loads((ROOT / "events" / "remove.json").read_text())
    response = lambda_watch.invoke(event)
    assert response == {"batchItemFailures": []}, lambda_watch.logs()
