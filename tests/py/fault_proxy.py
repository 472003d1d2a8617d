"""A fault-injecting HTTP proxy between the function and a local S3 server (moto).

Real S3 answers 500 and 503 SlowDown, drops connections before and after it has stored a
write (the write lands, the answer is lost), answers slowly, sometimes so slowly that the
invocation runs out of time, is unreachable for a few seconds, and answers a conditional PUT
(`If-None-Match: *`) of a key that another PUT is still writing with
409 ConditionalRequestConflict. moto does none of that; this proxy adds it, so the function's
failure paths meet them through the real SDK, over real sockets.

Which fault a request meets is drawn from a seeded schedule keyed by the request itself
(method, path, and how many times that method and path were seen before), not by arrival
order: the same seed gives the same faults to the same requests however the function's
concurrent writes interleave. The 409 is not drawn: the proxy answers it whenever a
conditional PUT arrives for a key with another PUT in flight, as S3 does.

Everything moto answered 2xx to a PUT is recorded (`landed`), with the request's body and
headers, so a test can count what was stored without reading thousands of objects back.
"""

from __future__ import annotations

import http.client
import http.server
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from local_http import LocalServer

# Headers that describe one hop, never forwarded as they are.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect",
               "proxy-connection"}

_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<RequestId>fault-proxy</RequestId></Error>"
)


@dataclass
class FaultPlan:
    """How often each fault is injected. Probabilities are per request; `hold` (an answer held
    past the function's timeout) and `dark` (the proxy refuses everything for a while) are
    expensive in wall-clock time, so each is also bounded per run."""

    seed: int
    error500: float = 0.01
    slowdown503: float = 0.02
    reset_before: float = 0.01
    reset_after: float = 0.015
    latency: float = 0.03
    latency_seconds: tuple[float, float] = (0.05, 0.5)
    hold: float = 0.002
    hold_seconds: float = 6.0
    max_holds: int = 2
    dark: float = 0.001
    dark_seconds: float = 2.0
    max_darks: int = 1

    DRAWN = ("error500", "slowdown503", "reset_before", "reset_after", "latency", "hold", "dark")

    def draw(self, method: str, path: str, nth: int) -> tuple[str | None, random.Random]:
        """The fault for the nth request with this method and path (or None), and a generator
        seeded the same way for the fault's own parameters (a latency, say)."""
        rng = random.Random(f"{self.seed}|{method}|{path}|{nth}")
        u = rng.random()
        for kind in self.DRAWN:
            p = getattr(self, kind)
            if u < p:
                return kind, rng
            u -= p
        return None, rng


@dataclass
class Landed:
    """A PUT that moto stored (answered 2xx), whatever became of the answer."""

    key: str
    body: bytes
    headers: dict[str, str]


@dataclass
class _Upstream:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ProxyState:
    """What the proxy injected and saw; shared by its handler threads under `lock`."""

    plan: FaultPlan
    upstream_port: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)
    in_flight: Counter = field(default_factory=Counter)
    requests: int = 0
    dark_until: float = 0.0
    landed: list[Landed] = field(default_factory=list)
    put_headers: list[dict[str, str]] = field(default_factory=list)

    def next_fault(self, method: str, path: str) -> tuple[str | None, random.Random]:
        """Draws the schedule for this request, within the per-run bounds."""
        with self.lock:
            nth = self.seen[(method, path)]
            self.seen[(method, path)] += 1
            kind, rng = self.plan.draw(method, path, nth)
            bound = {"hold": self.plan.max_holds, "dark": self.plan.max_darks}.get(kind)
            if bound is not None and self.injected[kind] >= bound:
                kind = None
            if kind == "dark":
                self.dark_until = time.monotonic() + self.plan.dark_seconds
            if kind:
                self.injected[kind] += 1
            return kind, rng

    def count(self, kind: str) -> None:
        with self.lock:
            self.injected[kind] += 1


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # the test prints its own summary
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._relay()

    do_PUT = do_HEAD = do_POST = do_DELETE = do_GET

    def finish(self) -> None:
        # After a reset the socket is gone; flushing it would raise.
        try:
            super().finish()
        except (OSError, ValueError):
            pass

    # --- one request ------------------------------------------------------------------------

    def _relay(self) -> None:
        state = self.server.state
        body = self._read_body()
        key = unquote(urlsplit(self.path).path)
        with state.lock:
            state.requests += 1
            dark = time.monotonic() < state.dark_until
        if dark:
            state.count("dark_refused")
            return self._reset()
        if self.command == "PUT":
            with state.lock:
                state.put_headers.append({k.lower(): v for k, v in self.headers.items()})
                conflict = state.in_flight[key] > 0 and self.headers.get("If-None-Match") == "*"
                if not conflict:
                    state.in_flight[key] += 1
            if conflict:
                state.count("conflict409")
                return self._error(409, "ConditionalRequestConflict",
                                   "A conflicting operation occurred. Retry the request.")
            try:
                self._relay_with_fault(state, key, body)
            finally:
                with state.lock:
                    state.in_flight[key] -= 1
        else:
            self._relay_with_fault(state, key, body)

    def _relay_with_fault(self, state: ProxyState, key: str, body: bytes) -> None:
        kind, rng = state.next_fault(self.command, key)
        if kind == "error500":
            return self._error(500, "InternalError", "We encountered an internal error. Please try again.")
        if kind == "slowdown503":
            return self._error(503, "SlowDown", "Please reduce your request rate.")
        if kind in ("reset_before", "dark"):
            return self._reset()
        if kind == "latency":
            time.sleep(rng.uniform(*state.plan.latency_seconds))
        if kind == "hold":
            time.sleep(state.plan.hold_seconds)
        upstream = self._forward(state, key, body)
        if kind == "reset_after":
            return self._reset()
        self._answer(upstream)

    # --- the pieces ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    def _forward(self, state: ProxyState, key: str, body: bytes) -> _Upstream:
        """Sends the request to moto as it came (same Host, so the signature still matches)."""
        conn = http.client.HTTPConnection("127.0.0.1", state.upstream_port, timeout=60)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    conn.putheader(name, value)
            if body or self.command in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            upstream = _Upstream(response.status, response.reason, response.getheaders(), response.read())
        finally:
            conn.close()
        if self.command == "PUT" and 200 <= upstream.status < 300:
            with state.lock:
                state.landed.append(Landed(key, body, {k.lower(): v for k, v in self.headers.items()}))
        return upstream

    def _answer(self, upstream: _Upstream) -> None:
        self.send_response_only(upstream.status, upstream.reason)
        length_sent = False
        for name, value in upstream.headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            if lower == "content-length":
                if self.command != "HEAD":
                    continue  # set from the body below
                length_sent = True
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(upstream.body)))
        elif not length_sent:
            self.send_header("Content-Length", "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(upstream.body)
        self.wfile.flush()

    def _error(self, status: int, code: str, message: str) -> None:
        body = _ERROR_BODY.format(code=code, message=message).encode()
        self.send_response_only(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", "fault-proxy")
        if self.command == "HEAD":
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.wfile.flush()

    def _reset(self) -> None:
        """Closes the connection with a TCP RST (SO_LINGER 0), not an orderly FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class _Server(LocalServer):
    state: ProxyState


class FaultProxy:
    """The proxy on 127.0.0.1 (a free port), forwarding to moto on `upstream_port`.
    Use as a context manager, or start() and stop()."""

    def __init__(self, upstream_port: int, plan: FaultPlan):
        self.state = ProxyState(plan, upstream_port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FaultProxy":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_idle(self, timeout: float) -> None:
        """Waits until no PUT is in flight: a held write lands (or fails) before the test
        counts what was stored."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.state.lock:
                if not +self.state.in_flight:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"PUTs still in flight after {timeout}s: {+self.state.in_flight}")

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
