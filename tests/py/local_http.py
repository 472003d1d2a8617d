"""The HTTP server the test harness's own servers (the fault proxy, the fake Lambda Runtime API)
are built on: threaded, on 127.0.0.1, quiet about peers that go away on purpose."""

import http.server
import sys


class LocalServer(http.server.ThreadingHTTPServer):
    """A ThreadingHTTPServer whose handler threads never keep the test process alive, and
    which does not print a traceback when a peer resets or vanishes (a killed function, a
    reset the proxy made on purpose); anything else is printed as usual."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)
