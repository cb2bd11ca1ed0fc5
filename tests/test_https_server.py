"""The test HTTPS server does what tests rely on: real TLS under a test CA, programmed answers, counters."""

import http.client
import socket
import ssl
import time
from pathlib import Path

import pytest
from https_server import HOST, LocalCA, Request, Response, https_server


def _client(server_port: int, ca_file: Path) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(ca_file))
    return http.client.HTTPSConnection(HOST, server_port, context=context, timeout=10)


def _get(server_port: int, ca_file: Path, path: str) -> tuple[http.client.HTTPResponse, bytes]:
    connection = _client(server_port, ca_file)
    connection.request("GET", path)
    response = connection.getresponse()
    return response, response.read()


def test_serves_programmed_answers_in_order_and_counts_them(tmp_path: Path) -> None:
    with https_server(tmp_path) as server:
        server.route("/a", [Response(503), Response(body=b"hello", headers=[("X-Test", "1")])])
        first, _ = _get(server.port, server.ca_file, "/a")
        second, body = _get(server.port, server.ca_file, "/a")
        third, _ = _get(server.port, server.ca_file, "/a")
        missing, _ = _get(server.port, server.ca_file, "/nothing")
        assert (first.status, second.status, third.status, missing.status) == (503, 200, 200, 404)
        assert body == b"hello" and second.getheader("X-Test") == "1"
        assert server.requests("/a") == 3 and server.requests("/nothing") == 1
        assert server.bytes_sent("/a") == 10


def test_route_function_sees_the_request_body_and_prefix_routes_match(tmp_path: Path) -> None:
    seen: list[Request] = []

    def echo(request: Request) -> Response:
        seen.append(request)
        return Response(body=request.body[::-1])

    with https_server(tmp_path) as server:
        server.route("/cgi/", echo, prefix=True)
        connection = _client(server.port, server.ca_file)
        connection.request("POST", "/cgi/x/y?q=1", body=b"abc", headers={"Content-Type": "text/plain"})
        answer = connection.getresponse()
        assert answer.read() == b"cba"
        assert (seen[0].method, seen[0].path, seen[0].query) == ("POST", "/cgi/x/y", "q=1")
        assert seen[0].headers["content-type"] == "text/plain"


def test_chunked_and_repeated_bodies_arrive_whole(tmp_path: Path) -> None:
    with https_server(tmp_path) as server:
        server.route("/big", Response(body=b"0123456789" * 10_000, repeat=5, chunked=True))
        response, body = _get(server.port, server.ca_file, "/big")
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert body == b"0123456789" * 50_000


def test_truncated_body_is_cut_and_the_connection_closed(tmp_path: Path) -> None:
    with https_server(tmp_path) as server:
        server.route("/cut", Response(body=b"x" * 1000, truncate_at=100))
        connection = _client(server.port, server.ca_file)
        connection.request("GET", "/cut")
        response = connection.getresponse()
        assert response.getheader("Content-Length") == "1000"
        with pytest.raises(http.client.IncompleteRead) as raised:
            response.read()
        assert len(raised.value.partial) == 100


def test_stall_mid_body_holds_the_rest_back(tmp_path: Path) -> None:
    with https_server(tmp_path) as server:
        server.route("/slow", Response(body=b"y" * 10, stall_after=4, stall=0.5))
        connection = _client(server.port, server.ca_file)
        connection.request("GET", "/slow")
        response = connection.getresponse()
        start = time.monotonic()
        assert response.read(4) == b"yyyy"
        assert response.read() == b"y" * 6
        assert time.monotonic() - start >= 0.4


def test_a_client_trusting_another_ca_fails_the_handshake(tmp_path: Path) -> None:
    other = LocalCA.create("another CA").write(tmp_path / "other.pem")
    with https_server(tmp_path) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            _get(server.port, other, "/")
        deadline = time.monotonic() + 5
        while server.handshake_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.handshake_failures == 1
        assert server.requests("/") == 0


def test_a_silent_client_does_not_block_others(tmp_path: Path) -> None:
    with https_server(tmp_path) as server, socket.create_connection((HOST, server.port)):
        server.route("/ok", Response(body=b"ok"))
        _, body = _get(server.port, server.ca_file, "/ok")
        assert body == b"ok"
