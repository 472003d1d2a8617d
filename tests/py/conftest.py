"""Shared pytest fixtures: a local moto server, boto3 clients bound to it, an Object Lock audit
bucket, and the Lambda function running under `cargo lambda watch`.

Run the tests with the pinned tools on PATH (`make py-test`, or
`PATH=$PWD/.tools/bin:$PATH pytest tests/py`). Every server a fixture starts binds 127.0.0.1 on a
free port and is stopped at teardown, also when the test fails.

Fixtures:
  moto_endpoint        session: "http://127.0.0.1:PORT" of a moto server shared by all tests
  moto_server_factory  function: start private moto servers (MotoServer: .endpoint .stop() .start())
  s3, dynamodb, dynamodbstreams
                       function: boto3 clients bound to moto_endpoint (us-east-1, dummy credentials)
  audit_bucket         function: name of a fresh bucket with versioning, Object Lock and default
                       retention GOVERNANCE 1 day
  lambda_watch         function: a LambdaWatch for the binary ddb-audit-lambda:
                       .set_env(AUDIT_BUCKET=..., ...) then .invoke("events/x.json" | dict) -> dict
"""

from __future__ import annotations

import json
import os
import signal
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("DDB_AUDIT_TOOLS") or ROOT / ".tools")
TOOLS_BIN = TOOLS / "bin"
REGION = "us-east-1"
LAMBDA_BIN = "ddb-audit-lambda"

# Credentials and settings no test may take from the developer's own AWS configuration.
_AWS_ENV_TO_DROP = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name: str) -> str:
    """Absolute path of a pinned tool from .tools/bin, with a clear failure if setup never ran."""
    path = TOOLS_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/setup (or make setup) first", pytrace=False)
    return str(path)


def tools_env(**extra: str) -> dict[str, str]:
    """The process environment with .tools/bin first on PATH, local dummy AWS credentials, and
    `extra` on top."""
    env = {k: v for k, v in os.environ.items() if k not in _AWS_ENV_TO_DROP}
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stops a process started with start_new_session=True and everything it spawned."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=grace)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening:\n{_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s:\n{_tail(log)}")


class MotoServer:
    """A moto server on 127.0.0.1 in its own process group. stop() then start() restarts it on
    the same port (with empty state: moto keeps everything in memory)."""

    def __init__(self, log_dir: Path, port: int | None = None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"moto-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "MotoServer":
        if self.proc is not None and self.proc.poll() is None:
            return self
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [tool("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=tools_env(),
            )
        try:
            _wait_for_port(self.port, self.proc, self.log, "moto_server", timeout)
            # Listening is not yet answering: wait for a real HTTP reply.
            deadline = time.monotonic() + timeout
            while True:
                try:
                    urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2).close()
                    break
                except urllib.error.HTTPError:
                    break  # any HTTP status means the server answers
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"moto_server does not answer:\n{_tail(self.log)}")
                    time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc)
            self.proc = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """URL of one moto server shared by the whole session."""
    with MotoServer(tmp_path_factory.mktemp("moto")) as server:
        yield server.endpoint


@pytest.fixture
def moto_server_factory(tmp_path):
    """Starts private moto servers (for tests that stop a server on purpose); all are stopped at
    teardown. Usage: server = moto_server_factory(); server.stop(); server.start()."""
    servers: list[MotoServer] = []

    def make(port: int | None = None) -> MotoServer:
        server = MotoServer(tmp_path, port)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def boto_client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


@pytest.fixture
def s3(moto_endpoint):
    return boto_client("s3", moto_endpoint)


@pytest.fixture
def dynamodb(moto_endpoint):
    return boto_client("dynamodb", moto_endpoint)


@pytest.fixture
def dynamodbstreams(moto_endpoint):
    return boto_client("dynamodbstreams", moto_endpoint)


def make_audit_bucket(s3_client, retention_days: int = 1, mode: str = "GOVERNANCE") -> str:
    """Creates a bucket like the one template.yaml deploys: Object Lock (which needs versioning)
    with a default retention. Returns its name."""
    name = f"audit-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3_client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3_client.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, "Days": retention_days}},
        },
    )
    return name


@pytest.fixture
def audit_bucket(s3):
    """A fresh Object Lock bucket (versioning on, default retention GOVERNANCE 1 day)."""
    return make_audit_bucket(s3)


@pytest.fixture(scope="session")
def lambda_binary():
    """Builds the function once per session before any `cargo lambda watch` starts, so a build
    error shows as itself (not as an invoke timeout) and the first invoke is not slowed by it."""
    proc = subprocess.run(
        ["cargo", "build", "--bin", LAMBDA_BIN],
        cwd=ROOT,
        env=tools_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=3600,
    )
    if proc.returncode != 0:
        pytest.fail(f"cargo build --bin {LAMBDA_BIN} failed:\n{proc.stdout[-6000:]}", pytrace=False)
    return LAMBDA_BIN


class LambdaInvokeError(Exception):
    """`cargo lambda invoke` failed, or the function returned an error or no JSON."""


class LambdaWatch:
    """`cargo lambda watch` serving the function on 127.0.0.1:PORT, started lazily on the first
    invoke with this object's environment: the parent's, plus AWS_ENDPOINT_URL_S3 (moto),
    AUDIT_S3_FORCE_PATH_STYLE=true, dummy credentials, AWS_REGION=us-east-1, plus set_env()'s.
    The function process inherits that environment (watch passes its own through)."""

    def __init__(self, endpoint: str, log_dir: Path, timeout: float = 120.0):
        self.endpoint = endpoint
        self.log_dir = log_dir
        self.timeout = timeout
        self.env: dict[str, str] = {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AUDIT_S3_FORCE_PATH_STYLE": "true",
            "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        }
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log: Path | None = None
        self._starts = 0

    def set_env(self, **env: str) -> "LambdaWatch":
        """Sets the function's environment variables (AUDIT_BUCKET, AUDIT_MODE, ...); a value of
        None removes one. Restarts the function if it is already running."""
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = str(value)
        if self.running:
            self.stop()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "LambdaWatch":
        if self.running:
            return self
        self._starts += 1
        self.port = free_port()
        self.log = self.log_dir / f"watch-{self._starts}-{self.port}.log"
        cmd = [
            "cargo", "lambda", "watch",
            "-A", "127.0.0.1", "-P", str(self.port),
            # The tests do not edit sources; a rebuild in the middle of a test would only hurt.
            "--ignore-changes",
            "--timeout", str(int(self.timeout)),
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=tools_env(**self.env),
            )
        try:
            _wait_for_port(self.port, self.proc, self.log, "cargo lambda watch", 60)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc)
            self.proc = None

    def logs(self) -> str:
        """Everything watch and the function printed so far (the function's tracing logs)."""
        return self.log.read_text(errors="replace") if self.log else ""

    def invoke(self, event: str | os.PathLike | dict) -> dict:
        """Sends one event (a file, relative to the repo root or absolute, or a dict) with
        `cargo lambda invoke` and returns the function's JSON response."""
        self.start()
        tmp = None
        if isinstance(event, dict):
            tmp = tempfile.NamedTemporaryFile("w", suffix=".json", dir=self.log_dir, delete=False)
            with tmp:
                json.dump(event, tmp)
            path = Path(tmp.name)
        else:
            path = Path(event)
            if not path.is_absolute() and not path.exists():
                path = ROOT / path
        cmd = [
            "cargo", "lambda", "invoke", LAMBDA_BIN,
            "-A", "127.0.0.1", "-P", str(self.port),
            "--data-file", str(path),
        ]
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                env=tools_env(),
                capture_output=True,
                text=True,
                timeout=self.timeout + 30,
            )
        except subprocess.TimeoutExpired as e:
            raise LambdaInvokeError(f"{' '.join(cmd)} timed out\n{_tail(self.log)}") from e
        finally:
            if tmp is not None:
                os.unlink(tmp.name)
        if proc.returncode != 0:
            raise LambdaInvokeError(
                f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout}\n"
                f"stderr: {proc.stderr}\nwatch log:\n{_tail(self.log)}"
            )
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            raise LambdaInvokeError(
                f"function answered with non-JSON: {proc.stdout!r}\nwatch log:\n{_tail(self.log)}"
            ) from e


@pytest.fixture
def lambda_watch(moto_endpoint, lambda_binary, tmp_path):
    """The function under `cargo lambda watch`, pointed at moto_endpoint's S3; stopped at
    teardown. Set AUDIT_BUCKET etc. with .set_env(...) before .invoke(...)."""
    watch = LambdaWatch(moto_endpoint, tmp_path)
    try:
        yield watch
    finally:
        watch.stop()


@pytest.fixture(scope="session")
def ddb_audit_bin(tmp_path_factory) -> Path:
    """The ddb-audit binary, built once (debug profile: the CLI is not on the hot path) and
    copied at once, so a concurrent build sharing CARGO_TARGET_DIR cannot swap it mid-test."""
    build = subprocess.run(
        ["cargo", "build", "--quiet", "--bin", "ddb-audit", "--message-format=json"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if build.returncode != 0:
        pytest.fail(f"cargo build --bin ddb-audit failed:\n{build.stderr[-6000:]}", pytrace=False)
    built = [json.loads(line).get("executable") for line in build.stdout.splitlines()]
    executable = next(path for path in built if path and Path(path).name == "ddb-audit")
    copy = tmp_path_factory.mktemp("bin") / "ddb-audit"
    shutil.copy2(executable, copy)
    return copy


@pytest.fixture(scope="session")
def rust_binaries():
    """Builds the function and the CLI (debug) once per session and returns their paths:
    {"ddb-audit-lambda": path, "ddb-audit": path}, in cargo's target directory (which honours
    CARGO_TARGET_DIR)."""
    names = [LAMBDA_BIN, "ddb-audit"]
    build = ["cargo", "build"] + [arg for name in names for arg in ("--bin", name)]
    proc = subprocess.run(build, cwd=ROOT, env=tools_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=3600)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(build)} failed:\n{proc.stdout[-6000:]}", pytrace=False)
    metadata = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                              env=tools_env(), capture_output=True, text=True, check=True)
    target = Path(json.loads(metadata.stdout)["target_directory"]) / "debug"
    return {name: str(target / name) for name in names}
