"""Streaming sha256: the same digest as hashlib, in constant memory."""

import hashlib
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap

import pytest

from signing.digest import _CHUNK_BYTES, DigestingReader, digest_stream

SIZES = [0, 1, _CHUNK_BYTES - 1, _CHUNK_BYTES, _CHUNK_BYTES + 1, 3 * _CHUNK_BYTES + 7]


def _data(size: int) -> bytes:
    return random.Random(size).randbytes(size)


class _TrickleStream(io.RawIOBase):
    """A stream that hands out at most a few bytes per read, as a pipe or socket may."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._inner.readinto(memoryview(buffer)[:4093])


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("stream_type", [io.BytesIO, _TrickleStream])
def test_digest_stream_equals_hashlib(size, stream_type):
    data = _data(size)
    digest = digest_stream(stream_type(data))
    assert (digest.sha256, digest.size) == (hashlib.sha256(data).hexdigest(), size)


def test_digest_stream_hashes_from_the_current_position():
    data = _data(1000)
    stream = io.BytesIO(data)
    stream.seek(100)
    assert digest_stream(stream).sha256 == hashlib.sha256(data[100:]).hexdigest()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("read_size", [-1, 4093, _CHUNK_BYTES + 3])
def test_digesting_reader_passes_data_through_and_equals_hashlib(size, read_size):
    data = _data(size)
    reader = DigestingReader(io.BytesIO(data))
    pieces = []
    while piece := reader.read(read_size):
        pieces.append(piece)
    assert b"".join(pieces) == data
    digest = reader.digest()
    assert (digest.sha256, digest.size) == (hashlib.sha256(data).hexdigest(), size)


def test_digesting_reader_digests_only_what_was_read():
    reader = DigestingReader(io.BytesIO(b"abcdef"))
    reader.read(2)
    assert reader.digest().sha256 == hashlib.sha256(b"ab").hexdigest()
    assert reader.digest().size == 2


SPARSE_BYTES = 4 * 1024**3
SPARSE_SHA256 = "8479e43911dc45e89f934fe48d01297e16f51d17aa561d4d1c216b1ae0fcddca"  # `sha256sum` of 4 GiB of zeros
MAX_GROWTH_KIB = 100 * 1024

_PEAK_RSS_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from signing.digest import file_digest

    def peak_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    baseline = peak_kib()
    digest = file_digest(Path(sys.argv[1]))
    print(json.dumps({"baseline": baseline, "peak": peak_kib(), "sha256": digest.sha256, "size": digest.size}))
    """
)


@pytest.mark.slow
def test_hashing_a_4_gib_file_keeps_memory_flat(tmp_path):
    # tmpfs, where there is one, serves the holes of a sparse file fastest.
    directory = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tmp_path
    with tempfile.NamedTemporaryFile(dir=directory) as sparse:
        os.truncate(sparse.name, SPARSE_BYTES)
        result = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_CHILD, sparse.name], capture_output=True, text=True, check=True
        )
    measured = json.loads(result.stdout)
    assert (measured["sha256"], measured["size"]) == (SPARSE_SHA256, SPARSE_BYTES)
    assert measured["peak"] - measured["baseline"] < MAX_GROWTH_KIB
