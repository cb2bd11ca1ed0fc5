"""Run a child process where file modes bind, even when the tests run as root.

Root reads a mode-000 file and writes into a 0555 directory, so neither can
be tested in process. The interpreter lives under /root, so the child
cannot run as `nobody`; it drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
CAP_FOWNER from its bounding set before exec instead: it stays root, but
bound by permission bits.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap

_PR_CAPBSET_DROP = 24
_FILE_ACCESS_OVERRIDES = 1, 2, 3  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def obey_file_modes() -> None:
    """In the child, before exec: make root obey file modes like any other user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in _FILE_ACCESS_OVERRIDES:
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_python_unprivileged(source: str) -> subprocess.CompletedProcess[str]:
    """Run `source` (dedented) with this interpreter, bound by file modes; its exit status is not checked."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        preexec_fn=obey_file_modes,
        check=False,
    )
