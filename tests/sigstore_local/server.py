"""The HTTP front: routes the Fulcio, Rekor v1 and GitHub Actions ID-token paths to the services."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sigstore_local.actions import ID_TOKEN_PATH, ActionsIdTokens
from sigstore_local.errors import RequestRefused
from sigstore_local.fulcio import Fulcio
from sigstore_local.rekor import TransparencyLog

_HOST = "127.0.0.1"
_ENTRY_PATH = re.compile(r"/api/v1/log/entries/(?P<uuid>[0-9a-fA-F]+)")


@dataclass(frozen=True)
class _Routes:
    """Maps a request to a service call; the paths are those of the clients in
    ``sigstore/_internal/fulcio/client.py`` and ``sigstore/_internal/rekor/client.py``,
    and the ID-token path a job learns from its environment (`ActionsIdTokens`)."""

    fulcio: Fulcio
    rekor: TransparencyLog
    actions: ActionsIdTokens

    def post(self, path: str, authorization: str | None, body: bytes) -> tuple[HTTPStatus, dict[str, Any]]:
        if path == "/api/v2/signingCert":
            return HTTPStatus.CREATED, self.fulcio.signing_cert(authorization, body)
        if path == "/api/v1/log/entries":
            try:
                proposed = json.loads(body)
            except ValueError as error:
                raise RequestRefused(400, f"request body is not JSON: {error}") from None
            return HTTPStatus.CREATED, self.rekor.add(proposed)
        raise RequestRefused(404, f"no POST route for {path}")

    def get(
        self, path: str, authorization: str | None, query: dict[str, list[str]]
    ) -> tuple[HTTPStatus, dict[str, Any]]:
        if path == ID_TOKEN_PATH:
            return HTTPStatus.OK, self.actions.id_token(authorization, query)
        if path == "/api/v1/log":
            return HTTPStatus.OK, self.rekor.info()
        if path == "/api/v1/log/entries" and "logIndex" in query:
            try:
                index = int(query["logIndex"][0])
            except ValueError:
                raise RequestRefused(400, "logIndex is not an integer") from None
            return HTTPStatus.OK, self.rekor.by_index(index)
        if match := _ENTRY_PATH.fullmatch(path):
            return HTTPStatus.OK, self.rekor.by_uuid(match["uuid"])
        raise RequestRefused(404, f"no GET route for {path}")


def _handler(routes: _Routes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._answer(lambda: routes.post(urlsplit(self.path).path, self.headers["Authorization"], body))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            self._answer(lambda: routes.get(url.path, self.headers["Authorization"], parse_qs(url.query)))

        def _answer(self, call: Callable[[], tuple[HTTPStatus, dict[str, Any]]]) -> None:
            try:
                status, document = call()
            except RequestRefused as refused:
                print(
                    f"sigstore_local: {self.command} {self.path} refused: {refused.reason}",
                    file=sys.stderr,
                )
                status, document = (
                    HTTPStatus(refused.status),
                    {"code": refused.status, "message": refused.reason},
                )
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: only refusals are worth a line in the test output."""

    return Handler


class SigstoreServer:
    """A ThreadingHTTPServer on 127.0.0.1 and a free port, serving in a daemon thread."""

    def __init__(self, fulcio: Fulcio, rekor: TransparencyLog, actions: ActionsIdTokens) -> None:
        self._httpd = ThreadingHTTPServer((_HOST, 0), _handler(_Routes(fulcio, rekor, actions)))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, with no trailing slash: the Rekor client appends ``/api/v1`` verbatim."""
        return f"http://{_HOST}:{self._httpd.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; later connections are refused."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
