"""What another process has open, read from Linux's `/proc`: for tests that stop a command mid-read."""

import os
from pathlib import Path


def read_position(path: Path, pid: int) -> int | None:
    """How far process `pid` has read `path`, or None if it does not have it open."""
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            if os.readlink(fd) == str(path):
                fields = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split()
                return int(fields[fields.index("pos:") + 1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None
