"""A real HTTP CONNECT proxy on 127.0.0.1 for tests, recording the tunnels it was asked for.

A client under test is pointed at it through the environment, as a user
behind a corporate proxy would be, and must open its tunnel here, then run
TLS through it to the test's HTTPS server, end to end:

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url)
        ...fetch from server.url(...)...
        assert proxy.targets == [f"127.0.0.1:{server.port}"]

The proxy only pipes bytes; it never sees plaintext. It tunnels to
loopback only (anything else is answered 403), so no test can reach the
network through it. Given `credentials`, it answers 407 to a CONNECT
without the matching `Proxy-Authorization`, as a proxy requiring a login
does. Stopping it closes the listening socket; every tunnel ends when
either side hangs up.
"""

from __future__ import annotations

import base64
import contextlib
import selectors
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

HOST = "127.0.0.1"
_LOOPBACK = frozenset({HOST, "localhost"})
_SOCKET_TIMEOUT = 30.0
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


class ConnectProxy:
    """An HTTP proxy on 127.0.0.1 and a free port that serves CONNECT only, until `stop`."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.targets: list[str] = []
        """The `host:port` of every CONNECT received, in order, whether or not it was tunnelled."""
        self.authorizations: list[str | None] = []
        """The `Proxy-Authorization` header of each CONNECT, None where there was none."""
        self._expected = (
            None if credentials is None else "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        )
        self._lock = threading.Lock()
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _record(self, target: str, authorization: str | None) -> bool:
        """Note the CONNECT; True if it may be tunnelled (the credentials match, when some are required)."""
        with self._lock:
            self.targets.append(target)
            self.authorizations.append(authorization)
        return self._expected is None or authorization == self._expected


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: ConnectProxy) -> None:
        self.owner = owner
        super().__init__((HOST, 0), _Tunnel)

    def handle_error(self, request: object, client_address: object) -> None:
        """A side hanging up mid-tunnel is how tunnels end; say nothing."""


class _Tunnel(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.connection.settimeout(_SOCKET_TIMEOUT)
        request_line = self.rfile.readline(65537).decode("latin-1").split()
        headers = self._headers()
        if len(request_line) != 3 or request_line[0] != "CONNECT":
            self._answer("405 Method Not Allowed")
            return
        target = request_line[1]
        host, _, port = target.rpartition(":")
        if not self.server.owner._record(target, headers.get("proxy-authorization")):
            self._answer('407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"')
            return
        if host not in _LOOPBACK or not port.isdigit():
            self._answer("403 Forbidden")
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=_SOCKET_TIMEOUT)
        except OSError:
            self._answer("502 Bad Gateway")
            return
        with upstream:
            self._answer("200 Connection established")
            _pipe(self.connection, upstream)

    def _headers(self) -> dict[str, str]:
        headers = {}
        while (line := self.rfile.readline(65537).decode("latin-1")) not in ("\r\n", "\n", ""):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return headers

    def _answer(self, status: str) -> None:
        self.wfile.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
        self.wfile.flush()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes or both are quiet for the socket timeout."""
    peers = {client: upstream, upstream: client}
    with selectors.DefaultSelector() as selector:
        for side in peers:
            selector.register(side, selectors.EVENT_READ)
        while events := selector.select(_SOCKET_TIMEOUT):
            for key, _ in events:
                side = key.fileobj
                assert isinstance(side, socket.socket)
                data = side.recv(65536)
                if not data:
                    return
                peers[side].sendall(data)


@contextlib.contextmanager
def connect_proxy(credentials: tuple[str, str] | None = None) -> Iterator[ConnectProxy]:
    """Serve CONNECT on 127.0.0.1 until the block ends."""
    proxy = ConnectProxy(credentials)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


def use_proxy(monkeypatch: pytest.MonkeyPatch, url: str, *, no_proxy: str | None = None) -> None:
    """Point this process at the proxy `url` the way a user's shell does, and at no other proxy."""
    for name in (*_PROXY_VARIABLES, "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("https_proxy", url)
    if no_proxy is not None:
        monkeypatch.setenv("no_proxy", no_proxy)
