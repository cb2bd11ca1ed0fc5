"""The floor for many small files: `os.walk` and `hashlib`, one file after another, as anyone would write it."""

import hashlib
import os
import sys

for directory, _, names in os.walk(sys.argv[1]):
    for name in names:
        with open(os.path.join(directory, name), "rb") as stream:
            hashlib.sha256(stream.read()).hexdigest()
