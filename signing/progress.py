"""How long work reports how far it got: files and bytes hashed, and what it is doing.

A `Progress` is what the walk and hashing call as they go (from any of the
hashing threads, so an implementation must be thread-safe). Written by the
performance helper for hashing first; `progress_for_terminal` (the reporter
shown on a TTY) belongs beside it.
"""

from typing import Protocol


class Progress(Protocol):
    """Told of work as it is done; never asked anything back."""

    def advance(self, files: int, bytes: int) -> None:
        """`files` more files, and `bytes` more bytes, are done."""

    def note(self, message: str) -> None:
        """What is being done now, for work that has no count ("deriving key...")."""
