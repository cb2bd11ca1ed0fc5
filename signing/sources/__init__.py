"""Remote sources `install` fetches into a private staging directory before verifying: a release URL, a Git commit."""

import re

URL_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
"""What no source URL may hold: `urlsplit` drops tabs and newlines that a request keeps, so the URL parsed,
printed and recorded would be another than the one fetched; a space or backslash is read differently by
different parsers."""
