"""Text for a terminal: untrusted strings shown visibly, never interpreted.

File names, paths, comments and record fields come from whoever made the
bundle. Printed raw, a newline, ESC, a C1 control, U+2028/U+2029 or a bidi
override would let a crafted name forge `[ok]` or `VERIFIED` lines, erase
the real ones, or reverse what follows. The library keeps such strings
as they are; the command line passes every untrusted string through
`escape` where it prints it. JSON output needs no such step: `json.dumps`
with its default `ensure_ascii=True` writes every non-ASCII character as
`\\uXXXX`.
"""

import unicodedata

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control, format (bidi, zero-width), surrogate, private-use and unassigned
# characters, and line or paragraph separators: shown as escapes.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def escape(text: str) -> str:
    """`text` with every character a terminal would not show as itself written as an escape.

    Escapes are Python's (`\\n`, `\\x1b`, `\\u202e`, `\\udcff` for a byte
    that was not UTF-8), and a backslash is doubled, so the shown form is
    unambiguous: a name with a newline never looks like one with `\\n` in it.
    """
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"
