"""Lambda's DynamoDB Streams event source mapping, simulated around the real function binary.

Three pieces:

- `RuntimeApi`: the Lambda Runtime API (the HTTP interface a custom runtime polls), served on
  127.0.0.1 for one execution environment. The binary's lambda_runtime client long-polls
  `GET /2018-06-01/runtime/invocation/next`, gets the event with its request id, deadline and
  function ARN in headers, and posts the result to `.../invocation/{id}/response` or `/error`.
- `Environment`: one execution environment: the real `ddb-audit-lambda` process started on
  demand (a cold start), given one invocation at a time, killed (SIGKILL) when the invocation
  times out, as Lambda resets an environment after a timeout, or when the fault schedule says so.
- `EventSourceMapping`: what Lambda's event source mapping does for one shard: batches in
  order, a partial batch response moves the checkpoint to the lowest sequence number reported
  and redelivers from there, an invocation error or timeout retries (bisecting the batch when
  `BisectBatchOnFunctionError` is on), and after `MaximumRetryAttempts` the batch's description
  goes to the failure list (the failure queue), as Lambda's on-failure destination gets it.

The model of retries, from Lambda's documentation: splitting a batch does not count as a retry;
a failure of a batch that cannot be split, or a partial response that makes no progress, does;
a partial response that moves the checkpoint starts the count again, and the redelivery from
the checkpoint is filled up to the batch size again.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import random
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from local_http import LocalServer

RUNTIME_PREFIX = "/2018-06-01/runtime"
FUNCTION_NAME = "ddb-audit-fault-test"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"


# --- the Runtime API ---------------------------------------------------------------------------


@dataclass
class Result:
    """What came back from one invocation: kind is response, error, init_error, timeout, killed
    or exited (the process ended on its own)."""

    kind: str
    body: bytes = b""


class _RuntimeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_RuntimeServer"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self):  # noqa: N802
        if self.path != f"{RUNTIME_PREFIX}/invocation/next":
            return self._reply(404, b'{"errorMessage":"not found"}')
        item = self.server.events.get()
        if item is None:  # the environment is gone; nobody reads this answer
            return self._reply(500, b'{"errorMessage":"shutting down"}')
        request_id, payload, deadline_ms = item
        self.send_response_only(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN)
        self.send_header("Lambda-Runtime-Trace-Id", f"Root=1-{request_id[:8]}-{request_id[8:32]};Sampled=0")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.removeprefix(RUNTIME_PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.results.put((None, Result("init_error", body)))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.results.put((parts[1], Result(parts[2], body)))
        else:
            return self._reply(404, b'{"errorMessage":"not found"}')
        self._reply(202, b'{"status":"OK"}')

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _RuntimeServer(LocalServer):
    events: queue.Queue
    results: queue.Queue


class RuntimeApi:
    """The Runtime API of one process lifetime, on 127.0.0.1 and a free port. A fresh one per
    cold start, so a poll left hanging by a killed process never takes the next event."""

    def __init__(self):
        self.server = _RuntimeServer(("127.0.0.1", 0), _RuntimeHandler)
        self.server.events = queue.Queue()
        self.server.results = queue.Queue()
        self.thread = threading.Thread(target=self.server.serve_forever, name="runtime-api", daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def deliver(self, request_id: str, payload: bytes, deadline_ms: int) -> None:
        self.server.events.put((request_id, payload, deadline_ms))

    def result(self, timeout: float) -> tuple[str | None, Result] | None:
        try:
            return self.server.results.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self.server.events.put(None)  # wakes a poll still waiting
        self.server.shutdown()
        self.server.server_close()


# --- one execution environment -------------------------------------------------------------------


class Environment:
    """An execution environment running `binary` with `env` (plus the Runtime API variables).
    The process is started by the first invoke after a kill, like a cold start."""

    def __init__(self, binary: str, env: dict[str, str], log: Path):
        self.binary = binary
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None
        self.api: RuntimeApi | None = None
        self.cold_starts = 0

    def _start(self) -> None:
        self.api = RuntimeApi()
        env = dict(
            self.env,
            AWS_LAMBDA_RUNTIME_API=self.api.address,
            AWS_LAMBDA_FUNCTION_NAME=FUNCTION_NAME,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{FUNCTION_NAME}",
            AWS_LAMBDA_LOG_STREAM_NAME=f"fault-test/{uuid.uuid4().hex}",
        )
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )
        self.cold_starts += 1

    def kill(self) -> None:
        """SIGKILL, as Lambda ends an environment: no chance to finish anything."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None
        if self.api is not None:
            self.api.stop()
            self.api = None

    def invoke(self, payload: bytes, timeout: float, kill_after: float | None = None) -> Result:
        """Runs one invocation. `kill_after` seconds in (if given and still running) the process
        is killed; past `timeout` it is killed as a timeout."""
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            self._start()
        request_id = uuid.uuid4().hex
        started = time.monotonic()
        self.api.deliver(request_id, payload, int((time.time() + timeout) * 1000))
        while True:
            elapsed = time.monotonic() - started
            if kill_after is not None and elapsed >= kill_after:
                self.kill()
                return Result("killed")
            if elapsed >= timeout:
                self.kill()
                return Result("timeout")
            if self.proc.poll() is not None:
                self.kill()
                return Result("exited")
            wait = min(0.02, timeout - elapsed, (kill_after - elapsed) if kill_after is not None else 1)
            got = self.api.result(max(wait, 0.001))
            if got is None:
                continue
            rid, result = got
            if result.kind == "init_error":
                self.kill()
                return result
            if rid == request_id:
                return result


# --- the event source mapping ------------------------------------------------------------------


@dataclass
class MappingSettings:
    """The event source mapping's settings and the function's timeout, as the template sets them
    (the timeout scaled down for a test)."""

    batch_size: int
    maximum_retry_attempts: int
    bisect: bool
    timeout: float


@dataclass
class Stats:
    invocations: int = 0
    bisections: int = 0
    outcomes: Counter = field(default_factory=Counter)
    kills: int = 0


@dataclass
class _Batch:
    start: int  # index of the first record in the shard's list
    end: int  # one past the last
    attempts: int = 0  # failed attempts counted against MaximumRetryAttempts


class EventSourceMapping:
    """Delivers one shard's records to one environment as Lambda's event source mapping does.
    `kill_rate` is the share of invocations whose process is SIGKILLed mid-way (from a
    generator seeded with `seed`); failed-batch descriptions go to `failures`."""

    def __init__(self, shard_id: str, stream_arn: str, records: list[dict], environment: Environment,
                 settings: MappingSettings, seed: str, kill_rate: float, kill_window: tuple[float, float]):
        self.shard_id = shard_id
        self.stream_arn = stream_arn
        self.records = records
        self.environment = environment
        self.settings = settings
        self.rng = random.Random(seed)
        self.kill_rate = kill_rate
        self.kill_window = kill_window
        self.stats = Stats()
        self.failures: list[dict] = []
        self._index = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}

    def run(self) -> None:
        """Processes the whole shard: returns when every record was processed or given up on."""
        pending: deque[_Batch] = deque()
        read = 0  # records read from the shard so far
        while pending or read < len(self.records):
            if not pending:
                pending.append(_Batch(read, min(read + self.settings.batch_size, len(self.records))))
                read = pending[0].end
            batch = pending[0]
            result = self._invoke(batch)
            lowest = self._lowest_reported(batch, result)
            if lowest is None:
                pending.popleft()
            elif lowest > batch.start:
                # Progress: the checkpoint moves; the redelivery is filled up again.
                batch.start, batch.attempts = lowest, 0
                if len(pending) == 1:
                    batch.end = max(batch.end, min(lowest + self.settings.batch_size, len(self.records)))
                    read = max(read, batch.end)
            elif result.kind != "response" and self.settings.bisect and batch.end - batch.start > 1:
                middle = (batch.start + batch.end) // 2
                pending.popleft()
                pending.appendleft(_Batch(middle, batch.end, batch.attempts))
                pending.appendleft(_Batch(batch.start, middle, batch.attempts))
                self.stats.bisections += 1
            else:
                batch.attempts += 1
                if batch.attempts > self.settings.maximum_retry_attempts:
                    self._give_up(pending.popleft(), result)

    def _invoke(self, batch: _Batch) -> Result:
        payload = json.dumps({"Records": self.records[batch.start:batch.end]}).encode()
        kill_after = None
        if self.rng.random() < self.kill_rate:
            kill_after = self.rng.uniform(*self.kill_window)
        result = self.environment.invoke(payload, self.settings.timeout, kill_after)
        self.stats.invocations += 1
        self.stats.outcomes[result.kind] += 1
        self.stats.kills += result.kind == "killed"
        return result

    def _lowest_reported(self, batch: _Batch, result: Result) -> int | None:
        """None when the batch succeeded; else the index to redeliver from (the batch's start
        for a failed invocation or a response Lambda cannot read)."""
        if result.kind != "response":
            return batch.start
        try:
            failures = json.loads(result.body or b"{}").get("batchItemFailures") or []
            indexes = [self._index[f["itemIdentifier"]] for f in failures]
        except (ValueError, KeyError, TypeError, AttributeError):
            return batch.start
        if not indexes:
            return None
        if min(indexes) < batch.start or max(indexes) >= batch.end:
            return batch.start  # an identifier outside the batch: Lambda fails the whole batch
        return min(indexes)

    def _give_up(self, batch: _Batch, result: Result) -> None:
        """What Lambda sends the on-failure destination: the batch's description only."""
        first, last = self.records[batch.start], self.records[batch.end - 1]
        self.failures.append({
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": FUNCTION_ARN},
            "responseContext": {"functionError": result.kind},
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "batchSize": batch.end - batch.start,
                "streamArn": self.stream_arn,
            },
        })
