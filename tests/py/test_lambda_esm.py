"""The simulated event source mapping (lambda_esm.py) keeps Lambda's rules.

The fault test's verdicts are only as good as its model of Lambda, so the model is tested on
its own here, against a scripted environment instead of the function: no server, no process.
"""

import json

from lambda_esm import EventSourceMapping, MappingSettings, Result

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/T/stream/2026-01-01T00:00:00.000"


def records(count):
    return [{"dynamodb": {"SequenceNumber": str(1000 + i)}} for i in range(count)]


class ScriptedEnvironment:
    """Answers each invocation with the next scripted answer: a callable of the batch's
    sequence numbers returning a Result (success when the script has run out)."""

    def __init__(self, *script):
        self.script = list(script)
        self.batches = []
        self.cold_starts = 0

    def invoke(self, payload, timeout, kill_after=None):
        batch = [r["dynamodb"]["SequenceNumber"] for r in json.loads(payload)["Records"]]
        self.batches.append(batch)
        return self.script.pop(0)(batch) if self.script else ok(batch)

    def kill(self):
        pass


def ok(batch):
    return Result("response", b'{"batchItemFailures":[]}')


def report_from(n):
    """A partial response reporting every record from the batch's nth on."""
    def answer(batch):
        items = [{"itemIdentifier": seq} for seq in batch[n:]]
        return Result("response", json.dumps({"batchItemFailures": items}).encode())
    return answer


def error(batch):
    return Result("error", b'{"errorMessage":"boom"}')


def mapping(env, count=10, batch_size=4, retries=2, bisect=False):
    settings = MappingSettings(batch_size=batch_size, maximum_retry_attempts=retries, bisect=bisect, timeout=1)
    return EventSourceMapping("shard-1", STREAM, records(count), env, settings, "seed", 0.0, (0, 0))


def seqs(first, last):
    return [str(1000 + i) for i in range(first, last + 1)]


# Guards the checkpoint rule: a partial response redelivers from the lowest reported record,
# filled up to the batch size again, and everything before it is never delivered again.
def test_partial_response_redelivers_from_the_lowest_reported_record():
    env = ScriptedEnvironment(report_from(2))
    m = mapping(env)
    m.run()
    assert env.batches == [seqs(0, 3), seqs(2, 5), seqs(6, 9)]
    assert m.failures == [] and m.stats.bisections == 0


# Guards bisection: a failed invocation splits the batch in two when the setting is on, and
# the split itself does not count as a retry.
def test_an_error_bisects_when_configured():
    env = ScriptedEnvironment(error)
    m = mapping(env, count=4, bisect=True)
    m.run()
    assert env.batches == [seqs(0, 3), seqs(0, 1), seqs(2, 3)]
    assert m.stats.bisections == 1 and m.failures == []


# Guards the batch-mode setting: without bisection a failed invocation retries the whole batch.
def test_an_error_retries_the_whole_batch_without_bisection():
    env = ScriptedEnvironment(error)
    m = mapping(env, count=4)
    m.run()
    assert env.batches == [seqs(0, 3), seqs(0, 3)]
    assert m.stats.bisections == 0


# Guards the bound: after MaximumRetryAttempts retries without progress the batch is given up,
# its description goes to the failure list, and the shard goes on after it.
def test_exhausted_retries_send_the_batch_description_to_the_failure_list():
    env = ScriptedEnvironment(*[report_from(0)] * 3)
    m = mapping(env, count=6, retries=2)
    m.run()
    assert env.batches == [seqs(0, 3)] * 3 + [seqs(4, 5)]
    (failure,) = m.failures
    assert failure["DDBStreamBatchInfo"] == {
        "shardId": "shard-1", "startSequenceNumber": "1000", "endSequenceNumber": "1003",
        "batchSize": 4, "streamArn": STREAM,
    }


# Guards that progress starts the count again: a partial response that moves the checkpoint
# is not a retry of the same records.
def test_progress_resets_the_retry_count():
    env = ScriptedEnvironment(report_from(0), report_from(0), report_from(1), report_from(0), report_from(0))
    m = mapping(env, count=4, retries=2)
    m.run()
    assert m.failures == []
    assert env.batches[-1] == seqs(1, 3)


# Guards Lambda's reading of a response it cannot use: an identifier outside the batch fails
# the whole batch, like an error.
def test_an_identifier_outside_the_batch_fails_the_whole_batch():
    outside = lambda batch: Result("response", b'{"batchItemFailures":[{"itemIdentifier":"42"}]}')  # noqa: E731
    env = ScriptedEnvironment(outside)
    m = mapping(env, count=4)
    m.run()
    assert env.batches == [seqs(0, 3), seqs(0, 3)]
