"""Low-level text helpers shared by the readers: chunks with line numbers, field checks.

Big rating files are read in chunks of whole lines (``CHUNK_BYTES`` at a time) so
that the text is never held in memory twice; each :class:`Chunk` knows the
1-based number of its first line in the file. Memory stays bounded by about two
chunks whatever the file holds: a NUL byte (binary data, a damaged or UTF-16
file) stops the read at the first chunk that has one, with its byte offset, and
a line longer than a chunk is refused. Only regular files are opened: a named
pipe, socket or device could block forever or never end. The fast parsers work on a chunk
at a time; when one fails, :func:`locate_problem` walks that chunk line by line
with the strict checks below to name the exact line and what is wrong with it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from embrec.errors import DataError

CHUNK_BYTES = 1 << 25

INT_RE = re.compile(r"[+-]?\d+")
FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?Z?")


@dataclass(frozen=True)
class Chunk:
    """Whole lines of a file: ``data`` always ends with a newline; ``first_line`` is 1-based."""

    data: bytes
    first_line: int
    path: Path

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line number, line without its line end)`` for every line of the chunk."""
        for offset, raw in enumerate(self.data.split(b"\n")[:-1]):
            yield self.first_line + offset, raw[:-1] if raw.endswith(b"\r") else raw


def iter_chunks(
    path: Path, *, skip_lines: int = 0, chunk_bytes: int | None = None
) -> Iterator[Chunk]:
    """The file as chunks of whole lines (about ``CHUNK_BYTES`` each), after ``skip_lines``.

    A last line without its newline gets one, so every chunk ends with ``\\n``.
    Binary data and lines longer than a chunk raise a :class:`DataError`
    (see the module docstring).
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    path = Path(path)
    with open_binary(path) as handle:
        offset = 0
        for number in range(1, skip_lines + 1):
            head = handle.readline(chunk_bytes + 1)
            check_block(head, offset, path, chunk_bytes, line=number)
            offset += len(head)
        line = skip_lines + 1
        rest = b""
        while True:
            block = handle.read(chunk_bytes)
            if not block:
                break
            check_block(block, offset, path, chunk_bytes)
            offset += len(block)
            block = rest + block if rest else block
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                if len(block) > chunk_bytes:
                    raise_long_line(path, line, chunk_bytes)
                rest = block
                continue
            rest = block[cut:]
            data = block[:cut] if rest else block
            yield Chunk(data, line, path)
            line += data.count(b"\n")
        if rest:
            yield Chunk(rest + b"\n", line, path)


def check_block(
    block: bytes, offset: int, path: Path, chunk_bytes: int, line: int | None = None
) -> None:
    """Refuse a block of a text file holding a NUL byte (``offset``: where it starts)."""
    nul = block.find(b"\0")
    if nul >= 0:
        raise DataError(
            f"binary data: a NUL byte at byte offset {offset + nul:,}",
            path=path,
            hint="rating files are UTF-8 or Latin-1 text; the file may be damaged or "
            "truncated, or UTF-16 (re-save it as UTF-8)",
        )
    if line is not None and len(block) > chunk_bytes:
        raise_long_line(path, line, chunk_bytes)


def raise_long_line(path: Path, line: int, chunk_bytes: int) -> None:
    raise DataError(
        f"a line longer than {chunk_bytes:,} bytes",
        path=path,
        line=line,
        hint="a rating file has one short line per rating; check that this is one",
    )


def open_binary(path: Path):
    """Open a regular file for reading; anything else is a :class:`DataError`."""
    require_regular_file(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except IsADirectoryError:
        raise DataError("is a folder, not a file", path=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", path=path) from None


FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def require_regular_file(path: Path) -> None:
    """Refuse what is not a regular file (symlinks to one are fine) before opening it.

    Opening a named pipe with no writer blocks forever, and a device may never
    end, so both are refused by their kind, which ``stat`` tells without opening.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise DataError("file not found", path=path) from None
    except OSError as exc:
        raise DataError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    if stat.S_ISDIR(mode):
        raise DataError("is a folder, not a file", path=path)
    if not stat.S_ISREG(mode):
        kind = FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise DataError(
            f"is {kind}, not a regular file",
            path=path,
            hint="save the ratings to a regular file and give its path",
        )


def read_text_lines(path: Path, encoding: str) -> list[tuple[int, str]]:
    """All non-blank lines of a small file as ``(line number, text)``, line ends removed.

    Undecodable bytes raise a :class:`DataError` naming the line.
    """
    out = []
    for chunk in iter_chunks(path):
        for number, line in chunk.lines():
            if line.strip():
                out.append((number, decode_line(line, encoding, path, number)))
    return out


def decode_line(line: bytes, encoding: str, path: Path, number: int) -> str:
    try:
        return line.decode(encoding)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"undecodable bytes at column {exc.start + 1} (the file should be {encoding})",
            path=path,
            line=number,
            hint="re-save the file in that encoding",
        ) from None


def read_first_line(path: Path, encoding: str = "utf-8") -> str | None:
    """The first line of a file without its line end, or None when the file is empty."""
    with open_binary(path) as handle:
        first = handle.readline(CHUNK_BYTES + 1)
    check_block(first, 0, path, CHUNK_BYTES, line=1)
    if not first:
        return None
    return decode_line(first.rstrip(b"\r\n"), encoding, path, 1).removeprefix("\ufeff")


# -- strict field checks (the slow path that names the line) -------------------------------


@dataclass(frozen=True)
class Field:
    """One column of a delimited rating file: its name in messages and its kind.

    Kinds: ``int`` (ids, unix seconds), ``float`` (ratings), ``str`` (string ids),
    ``date`` (``YYYY-MM-DD``), ``datetime`` (ISO 8601 date and time).
    """

    name: str
    kind: str


def check_value(text: str, field: Field) -> str | None:
    """Why ``text`` is not a valid value of ``field``, or None when it is."""
    if field.kind == "int":
        if not INT_RE.fullmatch(text):
            return f"{field.name} {shorten(text)!r} is not an integer"
        if not -(2**63) <= int(text) < 2**63:
            return f"{field.name} {shorten(text)!r} is too large"
    elif field.kind == "float":
        if not FLOAT_RE.fullmatch(text):
            if text.strip().lower() in {"nan", "+nan", "-nan"}:
                return f"{field.name} is NaN"
            return f"{field.name} {shorten(text)!r} is not a number"
        if not np.isfinite(float(text)):
            return f"{field.name} {shorten(text)!r} is not a finite number"
    elif field.kind == "str":
        if not text:
            return f"{field.name} is empty"
    elif field.kind == "date":
        if not DATE_RE.fullmatch(text) or not _is_date(text):
            return f"{field.name} {shorten(text)!r} is not a date YYYY-MM-DD"
    elif field.kind == "datetime":
        if not ISO_TIME_RE.fullmatch(text) or not _is_date(text[:10]):
            return f"{field.name} {shorten(text)!r} is not an ISO date (YYYY-MM-DD[ HH:MM[:SS]])"
    return None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_separator(sep: str) -> str:
    return {"\t": "tabs", ",": "commas", "::": "'::'", "|": "'|'", ";": "semicolons"}.get(
        sep, repr(sep)
    )


def check_fields(
    parts: list[str], fields: list[Field | None], sep: str, scale: tuple[float, float] | None
) -> tuple[int | None, str] | None:
    """The problem with one split line, as ``(field index or None, problem)``, or None.

    ``fields`` has an entry per column; None marks a column that is not read.
    ``scale`` bounds the field named ``rating``.
    """
    if len(parts) != len(fields):
        return None, (
            f"expected {len(fields)} fields separated by {describe_separator(sep)}, "
            f"found {len(parts)}"
        )
    for index, (text, field) in enumerate(zip(parts, fields)):
        if field is None:
            continue
        problem = check_value(text, field)
        if problem is not None:
            return index, problem
        if scale is not None and field.name == "rating":
            value = float(text)
            if not scale[0] <= value <= scale[1]:
                return index, f"rating {text} is outside the scale {scale[0]:g}..{scale[1]:g}"
    return None


def locate_problem(
    chunk: Chunk,
    check_line: Callable[[str], tuple[int | None, str] | None],
    encoding: str = "utf-8",
) -> tuple[int, int | None, str] | None:
    """The first bad line of a chunk as ``(line number, field index, problem)``, or None.

    Blank lines are skipped, as the fast parsers skip them.
    """
    for number, raw in chunk.lines():
        if not raw:
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            problem = f"undecodable bytes at column {exc.start + 1} (the file should be {encoding})"
            return number, None, problem
        found = check_line(text)
        if found is not None:
            return number, found[0], found[1]
    return None


def line_of_row(
    path: Path, row: int, *, skip_lines: int = 0, is_data: Callable[[bytes], bool] | None = None
) -> int | None:
    """The line number of the ``row``-th (0-based) data line of a file, for error messages.

    Data lines are the non-blank lines after ``skip_lines`` that ``is_data`` accepts.
    """
    seen = 0
    for chunk in iter_chunks(path, skip_lines=skip_lines):
        for number, raw in chunk.lines():
            if not raw or (is_data is not None and not is_data(raw)):
                continue
            if seen == row:
                return number
            seen += 1
    return None
