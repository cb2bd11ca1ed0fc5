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

import contextlib
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from git_repo import GitRepo, clean_environment
from https_server import HttpsServer, Request, Response, https_server


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


HOSTILE_GITCONFIG = """\
[filter "evil"]
    smudge = sh -c 'touch {marker}; cat'
    process = sh -c 'touch {marker}'
    required = true
[filter "lfs"]
    smudge = sh -c 'touch {marker}; cat'
    process = sh -c 'touch {marker}'
[core]
    hooksPath = {hooks}
    autocrlf = true
    fsmonitor = sh -c 'touch {marker}'
[http]
    sslVerify = false
"""
"""A user Git configuration under which `git clone` runs `touch {marker}`: filters, LFS, hooks, fsmonitor."""


@dataclass
class Served:
    """Bare repositories served by `git http-backend` over HTTPS, and the environment tests run `git` in."""

    server: HttpsServer
    repositories: Path
    environment: dict[str, str]
    work: Path

    def repo(self, name: str = "pack", *, object_format: str = "sha1") -> GitRepo:
        return GitRepo.init(self.work / name, self.environment, object_format=object_format)

    def publish(self, repo: GitRepo, name: str = "pack.git") -> str:
        """Push every branch and tag of `repo` to the served `name`; return its URL."""
        bare = self.repositories / name
        if not bare.exists():
            object_format = repo.git("rev-parse", "--show-object-format")
            GitRepo.init(bare, self.environment, object_format=object_format).git("config", "core.bare", "true")
        repo.git("push", "--quiet", "--force", "--mirror", str(bare))
        return self.server.url(f"/git/{name}")


@contextlib.contextmanager
def serve_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """Serve `tmp_path/served/git/*.git` until the block ends; this process trusts its CA and has no Git config."""
    environment = clean_environment(tmp_path / "git-home", ceiling=tmp_path)
    repositories = tmp_path / "served" / "git"
    repositories.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with https_server(tmp_path) as server:
        server.route("/git/", git_http_backend(repositories.parent, environment), prefix=True)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
        yield Served(server, repositories, environment, tmp_path / "work")
