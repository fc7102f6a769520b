# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The small HTTP server every aggregator emulator is built on.

An emulator listens on 127.0.0.1 only, on a port the system chooses, and
answers JSON as the real API does. Tests (and integrators, by hand) make it
misbehave on demand with ``fail_next``: a status with a body, an HTML error
page, or a delay longer than the client's timeout.

    with GoCardlessEmulator() as emulator:
        client = GoCardlessProvider(ProviderConfig(api_base_url=emulator.url, ...))
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

HTML_ERROR_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route's {placeholders}

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: object = None  # JSON-serializable, or str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Fault:
    """What the next matching request gets instead of the API's answer."""

    status: int = 500
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0  # seconds to wait before answering (a timeout, for a short client timeout)
    path: str | None = None  # a regular expression the path must match; None: any path


class EmulatorServer:
    """A threaded HTTP server with a route table.

    Subclasses declare routes with :meth:`route` in ``__init__`` and keep
    their state in plain attributes; every request is handled under one lock,
    so handlers need no locking of their own.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._routes: list[tuple[str, re.Pattern, Callable[[Request], Response]]] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.RLock()
        self.requests: list[Request] = []  # what the clients sent, for the tests to look at
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- routes and faults --------------------------------------------------

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        """``pattern`` is a path with ``{name}`` placeholders (one path segment each)."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method.upper(), regex, handler))

    def fail_next(self, fault: Fault | None = None, times: int = 1, **kwargs) -> None:
        """The next ``times`` requests (matching ``fault.path``) get ``fault``."""
        fault = fault or Fault(**kwargs)
        for _i in range(times):
            self._faults.append(fault)

    def html_error_next(self, status: int = 502) -> None:
        self.fail_next(status=status, body=HTML_ERROR_PAGE, content_type="text/html")

    # -- life cycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "EmulatorServer":
        # A short poll interval: stop() waits for it, once per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def serve_forever(self) -> None:
        """For running by hand: ``python -m emulators.gocardless``."""
        print(f"{type(self).__name__} listening on {self.url} (Ctrl-C stops it)", flush=True)
        try:
            self._httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self._httpd.server_close()

    # -- dispatch -------------------------------------------------------------

    def _take_fault(self, path: str) -> Fault | None:
        for fault in list(self._faults):
            if fault.path is None or re.search(fault.path, path):
                self._faults.remove(fault)
                return fault
        return None

    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request.path)
            if fault is None:
                for method, regex, handler in self._routes:
                    match = regex.match(request.path)
                    if match and method == request.method:
                        request.params = match.groupdict()
                        return handler(request)
                return self.not_found(request)
        if fault.delay:
            time.sleep(fault.delay)
        return Response(fault.status, fault.body, fault.headers, fault.content_type)

    def not_found(self, request: Request) -> Response:
        """The API's own 404; emulators override it with the API's body."""
        return Response(404, {"detail": "Not found."})

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm and
            # delayed ACKs, that costs 40 ms a call.
            disable_nagle_algorithm = True

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query={key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response = server._dispatch(request)
                if isinstance(response.body, bytes):
                    payload = response.body
                elif isinstance(response.body, str):
                    payload = response.body.encode()
                elif response.body is None and response.status == 204:
                    payload = b""
                else:
                    payload = json.dumps(response.body).encode()
                try:
                    self.send_response(response.status)
                    self.send_header("Content-Type", response.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in response.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): nothing to answer

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format, *args):  # noqa: A002 - the signature is http.server's
                pass  # tests read server.requests; the console stays quiet

        return Handler
