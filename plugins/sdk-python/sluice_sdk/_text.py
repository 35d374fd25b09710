"""Text helpers: Rust-style quoting, so messages match the Rust SDK and plugins word for word."""

from __future__ import annotations

from collections.abc import Iterable

try:  # imported here, at build time: a component cannot import modules while it runs
    import unicodedata
except ImportError:  # pragma: no cover
    unicodedata = None

_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}


def rust_debug(text: str) -> str:
    """``text`` quoted as Rust's ``{:?}`` writes a ``&str``: ``"a \\"b\\""``.

    Exact for ASCII and printable Unicode; other characters become ``\\u{hex}`` as in Rust
    (Unicode's general categories decide what is printable, as Rust's own table does).
    """
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for c in text:
        escaped = _ESCAPES.get(c)
        if escaped is not None:
            out.append(escaped)
        elif c.isprintable() and not _grapheme_extend(c):
            out.append(c)
        else:
            out.append(f"\\u{{{ord(c):x}}}")
    return '"' + "".join(out) + '"'


def _grapheme_extend(c: str) -> bool:
    if c.isascii() or unicodedata is None:
        return False
    return unicodedata.category(c) in ("Mn", "Me")


def rust_list(names: Iterable[str]) -> str:
    """A list of strings as Rust's ``{:?}`` writes a ``Vec<&str>``: ``["a", "b"]``."""
    return "[" + ", ".join(rust_debug(n) for n in names) + "]"


def backticked(names: Iterable[str]) -> str:
    """```a`, `b``` (as serde lists expected fields and variants)."""
    return ", ".join(f"`{n}`" for n in names)
