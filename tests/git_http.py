"""A real Git smart-HTTP server for tests: `git http-backend` behind `https_server`, on 127.0.0.1.

Git's own CGI program answers every request, so a client under test talks
to the same upload-pack GitHub and GitLab run (protocol v2 unless the
served repository says otherwise), over real TLS with the test's CA:

    with https_server(tmp_path) as server:
        server.route("/", git_http_backend(repositories, environment), prefix=True)
        url = server.url("/pack.git")

`repositories` holds bare repositories (`pack.git`); `environment` is the
one `git` runs in (`git_repo.clean_environment`), so no configuration of
the machine's reaches the server.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from https_server import Request, Response


def git_http_backend(repositories: Path, environment: Mapping[str, str]) -> Callable[[Request], Response]:
    """A route answering as `git http-backend` does for every repository below `repositories`."""

    def respond(request: Request) -> Response:
        cgi = dict(environment) | {
            "GIT_PROJECT_ROOT": str(repositories),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(request.body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "REMOTE_ADDR": request.client[0],
        }
        if request.headers.get("Git-Protocol"):
            cgi["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
        result = subprocess.run(
            ["git", "http-backend"], input=request.body, env=cgi, capture_output=True, timeout=60, check=False
        )
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value))
        return Response(status, body=body, headers=headers)

    return respond
