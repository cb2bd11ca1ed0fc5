"""The floor for large files: `hashlib` on 2 threads over the files, one 1 MiB buffer per thread."""

import hashlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

local = threading.local()


def digest(path: str) -> str:
    buffer = getattr(local, "buffer", None) or memoryview(bytearray(1024 * 1024))
    local.buffer = buffer
    hasher = hashlib.sha256()
    with open(path, "rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            hasher.update(buffer[:count])
    return hasher.hexdigest()


paths = [os.path.join(directory, name) for directory, _, names in os.walk(sys.argv[1]) for name in names]
with ThreadPoolExecutor(2) as pool:
    list(pool.map(digest, paths))
