"""`fetch_commit` against a real `git http-backend` over HTTPS on 127.0.0.1, with repositories made in the test.

Each attack has a test that fails without its defence: a branch that moved,
a commit the server does not have, a repository whose `.gitattributes`,
hooks or LFS pointers would run or rewrite something in a `git clone`, a
user Git configuration that would redirect the fetch or turn off TLS
verification, a server with a certificate from another CA, a submodule, a
`.git` directory smuggled into a tree, and a server sending more than the
limits allow.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from connect_proxy import connect_proxy, use_proxy
from git_http import HOSTILE_GITCONFIG, Served, serve_git
from git_repo import GitRepo
from https_server import LocalCA, Request, Response, https_server

from signing.errors import ExitStatus, SourceError, SourceSpecError, exit_status
from signing.sources.git import CHECKOUT_DIR, FetchLimits, fetch_commit

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """A Git HTTPS server whose CA this process trusts (`REQUESTS_CA_BUNDLE`), and a HOME with no Git config."""
    with serve_git(tmp_path, monkeypatch) as served:
        yield served


def sample(repo: GitRepo) -> str:
    """A bundle with a plain file, an executable, a nested file, a link and signatures; return the commit."""
    repo.write("README.md", "# pack\n")
    repo.write("bin/run", "#!/bin/sh\necho run\n").chmod(0o755)
    repo.write("data/nested/blob.txt", "nested\n")
    repo.write(".packseal/manifest.json", "{}\n")
    os.symlink("../README.md", repo.top / "data" / "readme")
    return repo.commit("pack")


def committed_tree(repo: GitRepo, commit: str, below: str = "") -> dict[str, tuple[int, bytes]]:
    """Every file and link of `commit` (below `below`): path -> (mode, blob bytes), as Git itself reads them."""
    listing = repo.git("ls-tree", "-r", "-z", "--full-tree", commit, *([below] if below else []))
    tree = {}
    for record in filter(None, listing.split("\0")):
        info, path = record.split("\t", 1)
        mode, _, sha = info.split()
        blob = subprocess.run(
            ["git", "-C", str(repo.top), "cat-file", "blob", sha],
            env=repo.environment, capture_output=True, check=True,
        ).stdout  # fmt: skip
        tree[path.removeprefix(below + "/") if below else path] = (int(mode, 8), blob)
    return tree


def written_tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """The same view of what `fetch_commit` wrote: files with their Git mode, links with their target."""
    tree = {}
    for directory, directories, files in os.walk(root):
        for name in files + [d for d in directories if (Path(directory) / d).is_symlink()]:
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                tree[relative] = (0o120000, os.fsencode(os.readlink(path)))
            else:
                executable = path.stat().st_mode & stat.S_IXUSR
                tree[relative] = (0o100755 if executable else 0o100644, path.read_bytes())
    return tree


def refusal(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_pinned_commit_is_written_byte_for_byte_with_modes_and_links(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    pinned = sample(repo)
    repo.write("README.md", "# pack, later\n")
    repo.commit("later")  # the branch moved on: the pinned commit is no longer its tip
    url = served.publish(repo)

    bundle = fetch_commit(url, pinned, tmp_path / "stage")

    assert bundle == tmp_path / "stage" / CHECKOUT_DIR / "pack"
    assert written_tree(bundle) == committed_tree(repo, pinned)
    assert (bundle / "README.md").read_text() == "# pack\n"
    assert os.readlink(bundle / "data" / "readme") == "../README.md"


def test_the_fetch_is_shallow_one_commit_not_its_history(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    repo.write("old.txt", "x" * 100_000)
    parent = repo.commit("old")
    pinned = sample(repo)
    url = served.publish(repo)

    fetch_commit(url, pinned, tmp_path / "stage")

    objects = tmp_path / "stage" / "objects"
    packed = subprocess.run(
        ["git", "verify-pack", "-v", *map(str, objects.glob("pack/*.idx"))],
        env=served.environment, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert pinned in packed and parent not in packed


def test_a_sha256_repository(served: Served, tmp_path: Path) -> None:
    repo = served.repo(object_format="sha256")
    pinned = sample(repo)
    assert len(pinned) == 64

    bundle = fetch_commit(served.publish(repo), pinned, tmp_path / "stage")

    assert written_tree(bundle) == committed_tree(repo, pinned)


def test_a_subdirectory_is_the_bundle_named_by_its_last_component(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    repo.write("packs/acme-tools/tool.toml", "name = 'tool'\n")
    repo.write("packs/other/x.toml", "x\n")
    pinned = repo.commit("two packs")

    bundle = fetch_commit(served.publish(repo), pinned, tmp_path / "stage", subdirectory="packs/acme-tools")

    assert bundle.name == "acme-tools"
    assert written_tree(bundle) == committed_tree(repo, pinned, "packs/acme-tools")


@pytest.mark.parametrize(
    "subdirectory",
    ["packs/link", "via/acme-tools", "packs/vendored"],
    ids=["a-link", "through-a-link", "a-submodule"],
)
def test_a_subdirectory_that_is_no_directory_of_the_commit_is_refused(
    served: Served, tmp_path: Path, subdirectory: str
) -> None:
    """A link (to a directory of the tree, or followed on the way) or a gitlink is not the commit's tree there."""
    repo = served.repo()
    repo.write("packs/acme-tools/tool.toml", "name = 'tool'\n")
    os.symlink("acme-tools", repo.top / "packs" / "link")
    os.symlink("packs", repo.top / "via")
    repo.commit("links")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.head},packs/vendored")
    repo.git("commit", "--quiet", "-m", "with a gitlink")
    pinned = repo.head

    with pytest.raises(SourceError, match=r"is not a directory in that commit|no subdirectory") as excinfo:
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage", subdirectory=subdirectory)

    refusal(excinfo)  # one line, no traceback
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_ref_pointing_at_the_commit_is_accepted_a_branch_or_tag(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    pinned = sample(repo)
    repo.git("tag", "-a", "-m", "release", "v1.0")  # annotated: the ref names a tag object, peeled to the commit
    url = served.publish(repo)

    for number, ref in enumerate(("main", "refs/heads/main", "v1.0", "refs/tags/v1.0")):
        fetch_commit(url, pinned, tmp_path / f"stage{number}", ref=ref)


def test_a_branch_that_moved_is_refused_and_nothing_is_written(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    pinned = sample(repo)
    moved = repo.commit("someone pushed")
    url = served.publish(repo)

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(url, pinned, tmp_path / "stage", ref="main")

    assert f"ref refs/heads/main points at {moved} now, not at the pinned commit {pinned}" in refusal(excinfo)
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_ref_the_server_lacks_is_refused(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    pinned = sample(repo)

    with pytest.raises(SourceError, match=r"ref 'release' is not on the server"):
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage", ref="release")


def test_an_unknown_commit_is_refused_in_one_line(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    sample(repo)
    unknown = "1" * 40

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(served.publish(repo), unknown, tmp_path / "stage")

    assert f"cannot fetch commit {unknown}" in refusal(excinfo)
    assert exit_status(excinfo.value) == ExitStatus.REFUSED
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_commit_force_pushed_away_is_still_the_pinned_tree(served: Served, tmp_path: Path) -> None:
    """The pin is the id, not a branch: Git's protocol v2 serves any object it still holds, reachable or not."""
    repo = served.repo()
    orphaned = sample(repo)
    url = served.publish(repo)
    repo.git("commit", "--quiet", "--amend", "-m", "rewritten")
    served.publish(repo)

    bundle = fetch_commit(url, orphaned, tmp_path / "stage")

    assert written_tree(bundle) == committed_tree(repo, orphaned)


def test_nothing_from_the_repository_or_the_user_git_config_runs_or_rewrites(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`.gitattributes` filters and LFS, hook scripts in the tree and via core.hooksPath, autocrlf: all inert.

    A `git clone` with this configuration runs the smudge filter (the
    marker appears) and rewrites line endings; dulwich's own checkout
    applies filters and autocrlf from the configuration it is given.
    """
    marker = tmp_path / "ran"
    hooks = tmp_path / "user-hooks"
    hooks.mkdir()
    for name in ("post-checkout", "post-merge", "post-rewrite", "reference-transaction"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / name).chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(HOSTILE_GITCONFIG.format(marker=marker, hooks=hooks))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    repo = served.repo()
    repo.write(".gitattributes", "* filter=evil text eol=crlf\n*.bin filter=lfs diff=lfs merge=lfs -text\n")
    repo.write("big.bin", "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12\n")
    repo.write("lines.txt", "one\ntwo\n")
    for hook in (".githooks/post-checkout", "hooks/post-checkout"):
        repo.write(hook, f"#!/bin/sh\ntouch {marker}\n").chmod(0o755)
    pinned = repo.commit("hostile")

    bundle = fetch_commit(served.publish(repo), pinned, tmp_path / "stage")

    assert written_tree(bundle) == committed_tree(repo, pinned)
    assert (bundle / "lines.txt").read_bytes() == b"one\ntwo\n"
    assert (bundle / "big.bin").read_text().startswith("version https://git-lfs.github.com/spec/v1\n")
    assert not marker.exists()


def test_the_marker_would_appear_with_git_clone(served: Served, tmp_path: Path) -> None:
    """The hostile configuration above is live: stock `git clone` runs its filter. Proves the test can fail."""
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(HOSTILE_GITCONFIG.format(marker=marker, hooks=tmp_path))
    repo = served.repo()
    repo.write(".gitattributes", "* filter=evil\n")
    repo.write("a.txt", "a\n")
    repo.commit("hostile")
    environment = served.environment | {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_SSL_CAINFO": str(served.server.ca_file),
    }
    url = served.publish(repo)
    subprocess.run(["git", "clone", "--quiet", url, str(tmp_path / "clone")], env=environment, timeout=60, check=False)
    assert marker.exists()


def test_user_git_config_cannot_redirect_the_fetch(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`url.<other>.insteadOf` in ~/.gitconfig and GIT_CONFIG_* would send `git` to another server; not us."""
    repo = served.repo()
    pinned = sample(repo)
    url = served.publish(repo)
    (tmp_path / "other").mkdir()
    with https_server(tmp_path / "other", ca=served.server.ca) as other:
        other.route("/git/", Response(500), prefix=True)
        home = tmp_path / "home"
        home.mkdir()
        (home / ".gitconfig").write_text(f'[url "{other.url("/")}"]\n    insteadOf = {served.server.url("/")}\n')
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{other.url('/')}.insteadOf")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", served.server.url("/"))

        bundle = fetch_commit(url, pinned, tmp_path / "stage")

        assert written_tree(bundle) == committed_tree(repo, pinned)
        assert other.requests("/git/pack.git/info/refs") == 0


def test_a_certificate_from_another_ca_is_refused_whatever_the_git_config_says(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = served.repo()
    pinned = sample(repo)
    served.publish(repo)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[http]\n    sslVerify = false\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_SSL_NO_VERIFY", "1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(LocalCA.create("another CA").write(tmp_path / "other-ca.pem")))

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(served.server.url("/git/pack.git"), pinned, tmp_path / "stage")

    assert "CERTIFICATE_VERIFY_FAILED" in refusal(excinfo)
    assert served.server.handshake_failures >= 1
    assert served.server.requests("/git/pack.git/info/refs") == 0


def test_a_redirect_to_plain_http_is_not_followed(served: Served, tmp_path: Path) -> None:
    served.server.route("/moved.git/", Response.redirect("http://127.0.0.1:9/pack.git/info/refs"), prefix=True)

    with pytest.raises(SourceError, match=r"http://127.0.0.1:9/pack.git/info/refs: refused, .* https only"):
        fetch_commit(served.server.url("/moved.git"), "1" * 40, tmp_path / "stage")


def test_a_dumb_http_server_is_refused(served: Served, tmp_path: Path) -> None:
    served.server.route("/dumb.git/", Response(body=b"", headers=[("Content-Type", "text/plain")]), prefix=True)

    with pytest.raises(SourceError, match=r"not a smart Git HTTP server"):
        fetch_commit(served.server.url("/dumb.git"), "1" * 40, tmp_path / "stage")


def test_a_submodule_is_refused(served: Served, tmp_path: Path) -> None:
    repo = served.repo()
    sample(repo)
    library = served.repo("library")
    library_commit = library.commit("library")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{library_commit},vendor/library")
    repo.git("commit", "--quiet", "-m", "with a submodule")  # `git add` would drop the gitlink: no checkout of it
    pinned = repo.head

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage")

    assert f"'vendor/library' is a submodule (commit {library_commit})" in refusal(excinfo)
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_dot_git_directory_smuggled_into_the_tree_is_refused(served: Served, tmp_path: Path) -> None:
    """`git mktree` builds what `git add` never would: a `.git/hooks/post-checkout` a later `git` would run."""
    repo = served.repo()
    sample(repo)
    hook = _blob(repo, b"#!/bin/sh\ntouch ran\n")
    hooks = _mktree(repo, f"100755 blob {hook}\tpost-checkout\n")
    dot_git = _mktree(repo, f"040000 tree {hooks}\thooks\n")
    readme = _blob(repo, b"# pack\n")
    root = _mktree(repo, f"040000 tree {dot_git}\t.GIT\n100644 blob {readme}\tREADME.md\n")
    pinned = repo.git("commit-tree", root, "-m", "smuggled")
    repo.git("update-ref", "refs/heads/main", pinned)

    with pytest.raises(SourceError, match=r"'.GIT' is a name Git refuses to check out"):
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage")


@pytest.mark.parametrize("name", [".g\u200cit", ".git\u200f", "\u202a.GIT", ".gi\u206ft", "\ufeff.git"])
def test_a_dot_git_spelled_with_characters_hfs_ignores_is_refused(served: Served, tmp_path: Path, name: str) -> None:
    """HFS+ ignores these code points in names, so macOS opens such an entry as `.git`; Git refuses them too."""
    repo = served.repo()
    sample(repo)
    hook = _blob(repo, b"#!/bin/sh\ntouch ran\n")
    hooks = _mktree(repo, f"100755 blob {hook}\tpost-checkout\n")
    dot_git = _mktree(repo, f"040000 tree {hooks}\thooks\n")
    root = _mktree(repo, f"040000 tree {dot_git}\t{name}\n")
    pinned = repo.git("commit-tree", root, "-m", "smuggled")
    repo.git("update-ref", "refs/heads/main", pinned)

    with pytest.raises(SourceError, match="is a name Git refuses to check out"):
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage")
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def _blob(repo: GitRepo, data: bytes) -> str:
    return subprocess.run(
        ["git", "-C", str(repo.top), "hash-object", "-w", "--stdin"],
        input=data, env=repo.environment, capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip


def _mktree(repo: GitRepo, listing: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo.top), "mktree"],
        input=listing.encode(), env=repo.environment, capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (FetchLimits(max_objects=3), r"the pack holds \d+ objects, over the limit of 3"),
        (FetchLimits(max_received=500), r"the server sent over 500 bytes"),
        (FetchLimits(max_files=3), r"the tree has over 3 entries"),
        (FetchLimits(max_bytes=10), r"the tree holds over 10 bytes"),
    ],
)
def test_limits_refuse_a_server_that_sends_too_much(
    served: Served, tmp_path: Path, limits: FetchLimits, message: str
) -> None:
    repo = served.repo()
    pinned = sample(repo)

    with pytest.raises(SourceError, match=message):
        fetch_commit(served.publish(repo), pinned, tmp_path / "stage", limits=limits)

    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_stalling_server_times_out(served: Served, tmp_path: Path) -> None:
    served.server.route("/slow.git/", Response(body=b"x", delay=30), prefix=True)

    with pytest.raises(SourceError, match=r"cannot fetch commit .*(timed out|Timeout)"):
        fetch_commit(served.server.url("/slow.git"), "1" * 40, tmp_path / "stage", limits=FetchLimits(read_timeout=1))


def test_a_server_trickling_bytes_is_cut_off_at_the_total_deadline(served: Served, tmp_path: Path) -> None:
    """A ref advertisement whose first pkt-line is 64 KiB, sent a byte every 0.05 s: nearly an hour.

    The connection is never silent for the read timeout; only the total
    deadline stops it, and only if every read returns what arrived so far:
    a read that waits for the whole pkt-line is never checked against it.
    """
    advertisement = Response(
        body=b"ffff" + b"x" * 0xFFFB,
        headers=[("Content-Type", "application/x-git-upload-pack-advertisement")],
        piece=1,
        trickle=0.05,
    )
    served.server.route("/slow.git/", advertisement, prefix=True)
    start = time.monotonic()

    with pytest.raises(SourceError, match=r"the fetch took over 1 s; refused"):
        fetch_commit(served.server.url("/slow.git"), "1" * 40, tmp_path / "stage", limits=FetchLimits(total_timeout=1))

    assert time.monotonic() - start < 5
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_a_body_that_decodes_to_nothing_is_not_decoded(served: Served, tmp_path: Path) -> None:
    """`Content-Encoding: gzip` over endless empty deflate blocks: a decoder would read on without returning.

    The request accepts only `identity`; the body is taken as sent, so the
    deadline and the byte budget see every byte, and gzip is no Git answer.
    """
    empty_block = b"\x00\x00\x00\xff\xff"  # a stored deflate block of 0 bytes, not the last one
    advertisement = Response(
        body=b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + empty_block * 6000,
        headers=[
            ("Content-Type", "application/x-git-upload-pack-advertisement"),
            ("Content-Encoding", "gzip"),
        ],
        piece=len(empty_block),
        trickle=0.01,
    )
    served.server.route("/gzip.git/", advertisement, prefix=True)
    start = time.monotonic()

    with pytest.raises(SourceError, match=r"cannot fetch commit .*Invalid pkt-line length prefix: b'\\\\x1f"):
        fetch_commit(served.server.url("/gzip.git"), "1" * 40, tmp_path / "stage", limits=FetchLimits(total_timeout=1))

    assert time.monotonic() - start < 5
    assert not (tmp_path / "stage" / CHECKOUT_DIR).exists()


def test_only_an_empty_directory_is_fetched_into(served: Served, tmp_path: Path) -> None:
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "left-over").write_text("x")

    with pytest.raises(SourceError, match=r"not empty"):
        fetch_commit(served.server.url("/pack.git"), "1" * 40, tmp_path / "stage")


def test_arguments_are_checked_as_a_source_string_is(tmp_path: Path) -> None:
    with pytest.raises(SourceSpecError) as excinfo:
        fetch_commit("https://127.0.0.1:9/pack.git", "main", tmp_path / "stage")
    assert exit_status(excinfo.value) == ExitStatus.ASKED_WRONGLY
    with pytest.raises(SourceSpecError, match=r"subdirectory '\.\./x'"):
        fetch_commit("https://127.0.0.1:9/pack.git", "1" * 40, tmp_path / "stage", subdirectory="../x")
    assert not (tmp_path / "stage").exists()


def test_credentials_in_the_proxy_url_are_sent_to_the_proxy_only(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = served.repo()
    pinned = sample(repo)
    url = served.publish(repo)

    with connect_proxy(credentials=("user", "p@ss word")) as proxy:
        use_proxy(monkeypatch, f"http://user:p%40ss%20word@127.0.0.1:{proxy.port}")
        bundle = fetch_commit(url, pinned, tmp_path / "stage")

    assert written_tree(bundle) == committed_tree(repo, pinned)
    assert set(proxy.authorizations) == {"Basic dXNlcjpwQHNzIHdvcmQ="}  # base64 of "user:p@ss word"


def test_a_proxy_refusing_the_credentials_is_named_without_them(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = served.repo()
    pinned = sample(repo)
    url = served.publish(repo)

    with connect_proxy(credentials=("user", "right")) as proxy:
        use_proxy(monkeypatch, f"http://user:wrong-secret@127.0.0.1:{proxy.port}")
        with pytest.raises(SourceError) as excinfo:
            fetch_commit(url, pinned, tmp_path / "stage")

    message = refusal(excinfo)
    assert message.endswith(
        f"through the proxy {proxy.url}: Tunnel connection failed: 407 Proxy Authentication Required"
    )
    assert "wrong-secret" not in message and "user" not in message
    assert served.server.requests("/git/pack.git/info/refs") == 0


def test_the_proxy_is_chosen_for_each_redirect_hop(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proxy is chosen per hop, as for a download: a redirect to a host `no_proxy` names goes direct."""
    repo = served.repo()
    pinned = sample(repo)
    served.publish(repo)

    def moved(request: Request) -> Response:
        path = request.path.replace("/moved.git/", "/git/pack.git/")
        return Response.redirect(served.server.url(f"{path}?{request.query}", host="localhost"))

    served.server.route("/moved.git/", moved, prefix=True)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url, no_proxy="localhost")
        bundle = fetch_commit(served.server.url("/moved.git"), pinned, tmp_path / "stage")

    assert written_tree(bundle) == committed_tree(repo, pinned)
    assert set(proxy.targets) == {f"127.0.0.1:{served.server.port}"}
    assert served.server.requests("/git/pack.git/git-upload-pack") >= 1


def test_a_redirect_to_plain_http_is_not_followed_through_a_proxy(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.server.route("/moved.git/", Response.redirect("http://127.0.0.1:9/pack.git/info/refs"), prefix=True)

    with connect_proxy() as proxy:
        use_proxy(monkeypatch, proxy.url)
        with pytest.raises(SourceError, match=r"http://127.0.0.1:9/pack.git/info/refs: refused, .* https only"):
            fetch_commit(served.server.url("/moved.git"), "1" * 40, tmp_path / "stage")

    assert proxy.targets == [f"127.0.0.1:{served.server.port}"]


def test_a_proxy_that_is_not_http_is_refused_before_any_connection(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_proxy(monkeypatch, "socks5://user:secret@127.0.0.1:1080")

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(served.server.url("/git/pack.git"), "1" * 40, tmp_path / "stage")

    message = refusal(excinfo)
    assert "the proxy socks5://127.0.0.1:1080 the environment names is not an http(s):// proxy" in message
    assert "secret" not in message
    assert served.server.requests("/git/pack.git/info/refs") == 0


@pytest.mark.parametrize(
    "proxy", ["http://user:secret@127.0.0.1:99999", "http://user:secret@", "http://user:secret@[::1"]
)
def test_a_proxy_url_that_does_not_parse_is_refused_without_its_credentials(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    use_proxy(monkeypatch, proxy)

    with pytest.raises(SourceError) as excinfo:
        fetch_commit(served.server.url("/git/pack.git"), "1" * 40, tmp_path / "stage")

    message = refusal(excinfo)
    assert "the proxy the environment names for it is not a URL" in message
    assert "secret" not in message
    assert served.server.requests("/git/pack.git/info/refs") == 0
