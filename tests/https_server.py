"""A real HTTPS server on 127.0.0.1 for tests, with a certificate authority made in the test.

Downloads and Git fetches are tested against real TLS and real HTTP/1.1,
not mocks: a client under test verifies the server's certificate against
`server.ca_file` (give it as `REQUESTS_CA_BUNDLE`, `GIT_SSL_CAINFO`, ...),
and a test programs what each path answers:

    with https_server(tmp_path) as server:
        server.route("/pack.tar.gz", Response(body=data))
        server.route("/flaky", [Response(503), Response(503), Response(body=data)])
        server.route("/repo.git/", lambda request: cgi(request), prefix=True)
        ...
        assert server.requests("/flaky") == 3

A `Response` can misbehave the ways a hostile or broken server does: a
wrong or missing Content-Length, a chunked body, a body cut short with the
connection closed, a stall before the answer or in the middle of the body,
a redirect. The server counts requests and body bytes sent per path, so a
test can show that a client stopped reading early or fetched a file once.

Each connection serves one request (`Connection: close`), and the TLS
handshake runs in the connection's own thread, so a client that stalls or
refuses the certificate holds up nobody else. Stalls end when the server
stops, so no test waits on a sleeping thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
_VALIDITY = timedelta(days=1)
_PIECE_BYTES = 64 * 1024
"""Body bytes written per send: small enough that the byte counter shows where a client stopped reading."""
_SOCKET_TIMEOUT = 30.0
"""A client that connects and then says nothing is dropped after this, so no thread lives forever."""


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, certificate_authority: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certificate_authority, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=certificate_authority, crl_sign=certificate_authority,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip


@dataclass(frozen=True)
class ServerCertificate:
    """A server's certificate and private key, in PEM."""

    certificate_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class LocalCA:
    """A self-signed root in the webpki CA profile (what OpenSSL's strict checks accept), made for one test."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, common_name: str = "packseal test CA") -> LocalCA:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _VALIDITY)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(certificate_authority=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        """Write the root in PEM (a CA bundle of one) and return its path."""
        path.write_bytes(self.pem)
        return path

    def issue(self, hosts: Sequence[str] = (HOST, "localhost")) -> ServerCertificate:
        """A TLS server certificate for `hosts` (IP addresses or DNS names), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [_subject_alternative_name(host) for host in hosts]
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(hosts[0]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _VALIDITY)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(certificate_authority=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return ServerCertificate(certificate.public_bytes(serialization.Encoding.PEM), key_pem)


def _subject_alternative_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class Response:
    """What the server answers to one request, well formed or not.

    `length` is the Content-Length sent: "body" for the body's true size,
    an int to claim another size, None to send none (the body then ends
    when the connection closes). `chunked` sends Transfer-Encoding:
    chunked instead. `truncate_at` sends only that many body bytes, then
    closes the connection (with no final chunk when chunked). `delay`
    waits before the status line; `stall` waits after `stall_after` body
    bytes; `trickle` waits after every piece of the body (`body` written
    `piece` bytes at a time), so the connection is never silent for long
    yet the body takes as long as the server likes. The body is `body` sent `repeat` times, so a test can serve
    gigabytes without holding them.
    """

    status: int = 200
    body: bytes = b""
    repeat: int = 1
    headers: Sequence[tuple[str, str]] = ()
    length: int | Literal["body"] | None = "body"
    chunked: bool = False
    truncate_at: int | None = None
    delay: float = 0.0
    stall_after: int = 0
    stall: float = 0.0
    trickle: float = 0.0
    piece: int = _PIECE_BYTES

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, headers=[("Location", location)])

    @property
    def size(self) -> int:
        """The body's full size, whatever is actually sent."""
        return len(self.body) * self.repeat


@dataclass(frozen=True)
class Request:
    """A request as a route function sees it (a CGI front such as `git http-backend` needs all of it)."""

    method: str
    path: str
    """The path, percent-encoded as sent, without the query."""
    query: str
    headers: HTTPMessage
    body: bytes
    client: tuple[str, int]


Responder = Response | Sequence[Response] | Callable[[Request], Response]
"""One answer for every request; a list answered in order, the last one repeated; or a function of the request."""


@dataclass
class _Route:
    responder: Responder
    prefix: bool
    served: int = 0

    def respond(self, request: Request) -> Response:
        self.served += 1
        if isinstance(self.responder, Response):
            return self.responder
        if callable(self.responder):
            return self.responder(request)
        return self.responder[min(self.served, len(self.responder)) - 1]


class HttpsServer:
    """HTTPS on 127.0.0.1 and a free port, serving in daemon threads until `stop`."""

    def __init__(self, ca: LocalCA, ca_file: Path, *, hosts: Sequence[str] = (HOST, "localhost")) -> None:
        self.ca = ca
        self.ca_file = ca_file
        """The CA's PEM file, for the client: `REQUESTS_CA_BUNDLE`, `GIT_SSL_CAINFO`."""
        self.handshake_failures = 0
        """Connections whose TLS handshake failed: a client refusing the certificate shows here."""
        self._routes: dict[str, _Route] = {}
        self._requests: Counter[str] = Counter()
        self._bytes_sent: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _TlsServer(self, _tls_context(ca.issue(hosts)))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_port

    def url(self, path: str = "/", *, host: str = HOST) -> str:
        return f"https://{host}:{self.port}{path}"

    def route(self, path: str, responder: Responder, *, prefix: bool = False) -> None:
        """Answer requests for `path` (every path under it with `prefix`) with `responder`; replaces a route."""
        with self._lock:
            self._routes[path] = _Route(responder, prefix)

    def requests(self, path: str) -> int:
        """How many requests for exactly `path` arrived (whatever was answered)."""
        with self._lock:
            return self._requests[path]

    def bytes_sent(self, path: str) -> int:
        """How many body bytes for `path` the server managed to hand to the network, over all requests."""
        with self._lock:
            return self._bytes_sent[path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, end every stall, release the port."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def _respond(self, request: Request) -> Response:
        with self._lock:
            self._requests[request.path] += 1
            route = self._routes.get(request.path) or next(
                (r for p, r in self._routes.items() if r.prefix and request.path.startswith(p)), None
            )
        return Response(404) if route is None else route.respond(request)

    def _count_sent(self, path: str, count: int) -> None:
        with self._lock:
            self._bytes_sent[path] += count

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _tls_context(certificate: ServerCertificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as directory:
        chain, key = Path(directory, "server.pem"), Path(directory, "server.key")
        chain.write_bytes(certificate.certificate_pem)
        key.write_bytes(certificate.key_pem)
        context.load_cert_chain(chain, key)
    return context


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: HttpsServer, context: ssl.SSLContext) -> None:
        self.owner = owner
        self._context = context
        super().__init__((HOST, 0), _Handler)

    def get_request(self) -> tuple[socket, Any]:
        connection, address = self.socket.accept()
        return self._context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake in the connection's thread: a slow or refusing client blocks only itself."""
        request.settimeout(_SOCKET_TIMEOUT)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            with self.owner._lock:
                self.owner.handshake_failures += 1
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up (it stopped reading at its size cap, or timed out) is expected; say nothing."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = _SOCKET_TIMEOUT
    server: _TlsServer

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        url = urlsplit(self.path)
        request = Request(self.command, url.path, url.query, self.headers, self._read_body(), self.client_address)
        response = owner._respond(request)
        self.close_connection = True
        owner._wait(response.delay)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.length is not None:
            self.send_header("Content-Length", str(response.size if response.length == "body" else response.length))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self._send_body(request.path, response)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(parts)

    def _send_body(self, path: str, response: Response) -> None:
        owner = self.server.owner
        limit = response.size if response.truncate_at is None else min(response.truncate_at, response.size)
        sent = 0
        stalled = response.stall <= 0
        for piece in _pieces(response):
            if not stalled and sent + len(piece) > response.stall_after:
                before = response.stall_after - sent
                self._write(path, piece[:before], chunked=response.chunked)
                sent, piece = sent + before, piece[before:]
                self.wfile.flush()
                owner._wait(response.stall)
                stalled = True
            piece = piece[: limit - sent]
            if not piece:
                break
            self._write(path, piece, chunked=response.chunked)
            sent += len(piece)
            owner._wait(response.trickle)
        if response.chunked and response.truncate_at is None:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write(self, path: str, piece: bytes, *, chunked: bool) -> None:
        if not piece:
            return
        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        self.wfile.flush()
        self.server.owner._count_sent(path, len(piece))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test reads the counters, not a log."""


def _pieces(response: Response) -> Iterator[bytes]:
    for _ in range(response.repeat):
        for start in range(0, len(response.body), response.piece):
            yield response.body[start : start + response.piece]


@contextlib.contextmanager
def https_server(directory: Path, *, ca: LocalCA | None = None) -> Iterator[HttpsServer]:
    """Serve on 127.0.0.1 until the block ends; the CA's PEM is written to `directory/https-ca.pem`."""
    ca = ca or LocalCA.create()
    server = HttpsServer(ca, ca.write(directory / "https-ca.pem"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
