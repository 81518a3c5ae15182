"""File names from the outside world: which ones the project can store, and how to show any.

POSIX file names are bytes. Python hands a name that is not valid UTF-8 over with "surrogate
escapes" (``caf\\udce9.png``), which SQLite, JSON and a UTF-8 terminal all refuse. The project
never takes such a name in, and every message shows it with ``\\xNN`` escapes instead of failing.
A name with a path in it (``../x.png``) is refused the same way: it is not a name.
"""

from __future__ import annotations


def is_utf8(name: str) -> bool:
    """Whether ``name`` (as os.listdir returns it) is valid UTF-8 text."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display(text: object) -> str:
    """``text`` printable anywhere: bytes that were not UTF-8 become ``\\xNN``."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be an image name of a project (None: it can)."""
    if not is_utf8(name):
        return (f"its name {display(name)!r} is not valid UTF-8; rename the file "
                "(e.g. with `convmv`)")
    if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        return f"{display(name)!r} is a path, not a file name; names must not contain / or \\"
    return None
