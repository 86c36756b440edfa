"""Delimited rating text -> compact column arrays, fast, with exact line numbers on errors.

A :class:`Layout` says how the lines of a rating file look: separator, the kind of
each column, header lines, quoting. :func:`read_columns` streams the file in
chunks of whole lines through ``pyarrow.csv`` (C++, explicit column types, no
type inference), so a 25M-line file becomes int32/int64/float32 arrays without
holding its text twice. ``::`` separators (which the CSV parsers do not take)
become a single ``\\x1f`` byte chunk by chunk.

When pyarrow refuses a chunk, or a vectorised check finds a NaN or
out-of-scale rating or an empty id, the chunk is walked line by line with the
strict checks of :mod:`._text` to raise a :class:`DataError` naming the exact line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from embrec.data.readers._text import (
    Chunk,
    Field,
    check_fields,
    check_value,
    describe_separator,
    iter_chunks,
    locate_problem,
)
from embrec.errors import DataError

UNIT_SEPARATOR = "\x1f"
NON_NEWLINE_RE = re.compile(rb"[^\r\n]")

LineCheck = Callable[[str], "tuple[int | None, str] | None"]

ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float32(),
    "str": pa.string(),
    "date": pa.date32(),
    "datetime": pa.timestamp("s"),
}


@dataclass(frozen=True)
class Layout:
    """The shape of the lines of a delimited rating file.

    ``fields`` has one entry per column (None: a column that is not read);
    the field names (``user id``, ``item id``, ``rating``, ``timestamp``)
    key the arrays :func:`read_columns` returns. ``widen`` lets an ``int``
    column fall back to strings (ids) or ISO dates (timestamps) when the file
    holds those; official formats leave it off.
    """

    sep: str
    fields: tuple[Field | None, ...]
    skip_lines: int = 0
    quoted: bool = False
    encoding: str = "utf-8"
    widen: bool = False

    def describe(self) -> str:
        names = ", ".join(f.name if f else "(ignored)" for f in self.fields)
        return f"{names} separated by {describe_separator(self.sep)}"

    def split(self, text: str) -> list[str]:
        """The fields of one line; :class:`MalformedLine` for broken quoting."""
        if self.quoted:
            try:
                return next(csv.reader([text], delimiter=self.sep, strict=True), [])
            except csv.Error as exc:
                raise MalformedLine(f"malformed quoting: {exc}") from None
        return text.split(self.sep)

    def check_line(self, scale: tuple[float, float] | None) -> LineCheck:
        fields = list(self.fields)

        def check(text: str) -> tuple[int | None, str] | None:
            try:
                parts = self.split(text)
            except MalformedLine as exc:
                return None, str(exc)
            return check_fields(parts, fields, self.sep, scale)

        return check


class MalformedLine(ValueError):
    """A line whose quoting the CSV rules cannot split."""


class _Widen(Exception):
    """A column declared ``int`` holds strings or dates: read the file again with that kind."""

    def __init__(self, index: int, kind: str) -> None:
        super().__init__(index, kind)
        self.index = index
        self.kind = kind


def read_columns(
    path: Path, layout: Layout, scale: tuple[float, float] | None = None
) -> dict[str, np.ndarray]:
    """Parse a delimited rating file into one array per read field.

    ``int`` columns come back as int32 where every value fits, else int64;
    ``float`` as float32; ``date``/``datetime`` as int64 unix seconds; ``str``
    as object arrays. Ratings outside ``scale`` (inclusive bounds), NaN ratings,
    malformed lines and undecodable bytes raise a :class:`DataError` with the line.
    """
    for _ in range(len(layout.fields) + 1):
        try:
            return _read_columns_once(path, layout, scale)
        except _Widen as widen:
            fields = list(layout.fields)
            fields[widen.index] = replace(fields[widen.index], kind=widen.kind)
            layout = replace(layout, fields=tuple(fields))
    raise DataError("cannot settle the column types", path=path)


def _read_columns_once(
    path: Path, layout: Layout, scale: tuple[float, float] | None
) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {f.name: [] for f in layout.fields if f is not None}
    for chunk in iter_chunks(path, skip_lines=layout.skip_lines):
        columns = parse_chunk(chunk, layout, scale)
        for name, values in columns.items():
            parts[name].append(values)
    return {name: concat(arrays) for name, arrays in parts.items()}


def parse_chunk(
    chunk: Chunk,
    layout: Layout,
    scale: tuple[float, float] | None,
    *,
    data: bytes | None = None,
    check: LineCheck | None = None,
) -> dict[str, np.ndarray]:
    """Parse one chunk (or ``data``, a cleaned version of it); errors name the chunk's lines.

    ``check`` replaces the layout's strict line check on the error path.
    """
    try:
        columns = parse_block(chunk.data if data is None else data, layout)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError) as exc:
        cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(chunk, layout, scale, cause, check)
    if not block_is_valid(columns, layout, scale):
        fail(chunk, layout, scale, "a value failed the checks", check)
    return columns


def parse_block(data: bytes, layout: Layout) -> dict[str, np.ndarray]:
    """The fast path: pyarrow parses whole lines of text with fixed column types."""
    if not NON_NEWLINE_RE.search(data):
        return {f.name: empty(f.kind) for f in layout.fields if f is not None}
    sep = layout.sep
    if len(sep) > 1:
        data = data.replace(sep.encode(), UNIT_SEPARATOR.encode())
        sep = UNIT_SEPARATOR
    names = [f"c{i}" for i in range(len(layout.fields))]
    wanted = {names[i]: ARROW_TYPES[f.kind] for i, f in enumerate(layout.fields) if f is not None}
    table = pacsv.read_csv(
        arrow_owned(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=sep, quote_char='"' if layout.quoted else False),
        convert_options=pacsv.ConvertOptions(
            column_types=wanted,
            include_columns=list(wanted),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            true_values=[],
            false_values=[],
        ),
    )
    out = {}
    for i, field in enumerate(layout.fields):
        if field is not None:
            out[field.name] = to_numpy(table.column(names[i]), field.kind)
    return out


def arrow_owned(data: bytes) -> pa.Buffer:
    """A copy of ``data`` in memory that Arrow owns (about 15 ms per 32 MiB chunk).

    ``pa.py_buffer`` would lend Arrow the Python ``bytes`` object itself. The
    threaded CSV reader returns before its worker threads have dropped their
    last reference to the input; a worker that drops it later must take the GIL
    to release the Python object, and if the interpreter is finalising by then
    (a command that fails and exits right after reading) the thread is
    cancelled inside a C++ destructor and the process aborts ("terminate
    called without an active exception", exit 134). Arrow-owned memory is freed
    without the GIL.
    """
    buffer = pa.allocate_buffer(len(data))
    memoryview(buffer).cast("B")[:] = data
    return buffer


def empty(kind: str) -> np.ndarray:
    dtypes = {"int": np.int32, "float": np.float32, "date": np.int64, "datetime": np.int64}
    return np.empty(0, dtype=dtypes.get(kind, object))


def to_numpy(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    if kind == "int":
        return compact_ints(column.to_numpy())
    if kind == "float":
        return column.to_numpy().astype(np.float32, copy=False)
    if kind == "date":
        return column.cast(pa.int32()).to_numpy().astype(np.int64) * 86_400
    if kind == "datetime":
        return column.cast(pa.int64()).to_numpy()
    return column.to_numpy(zero_copy_only=False).astype(object)


def compact_ints(values: np.ndarray) -> np.ndarray:
    """int32 when every value fits, else int64."""
    values = np.asarray(values, dtype=np.int64)
    if len(values) and values.min() >= -(2**31) and values.max() < 2**31:
        return values.astype(np.int32)
    return values


def block_is_valid(
    columns: dict[str, np.ndarray], layout: Layout, scale: tuple[float, float] | None
) -> bool:
    """The vectorised checks: finite ratings inside the scale, no empty string ids."""
    for field in layout.fields:
        if field is None:
            continue
        values = columns[field.name]
        if field.kind == "float":
            if not np.isfinite(values).all():
                return False
            if scale is not None and field.name == "rating":
                if (
                    values.min(initial=scale[0]) < scale[0]
                    or values.max(initial=scale[1]) > scale[1]
                ):
                    return False
        elif field.kind == "str" and len(values) and (values == "").any():
            return False
    return True


def fail(
    chunk: Chunk,
    layout: Layout,
    scale: tuple[float, float] | None,
    cause: str,
    check: LineCheck | None = None,
) -> NoReturn:
    """Raise the :class:`DataError` for a chunk the fast path refused (or :class:`_Widen`)."""
    found = locate_problem(chunk, check or layout.check_line(scale), layout.encoding)
    if found is None:
        last = chunk.first_line + chunk.data.count(b"\n") - 1
        raise DataError(
            f"cannot parse lines {chunk.first_line}-{last}: {cause}",
            path=chunk.path,
            hint=f"each line should hold {layout.describe()}",
        )
    line, index, problem = found
    if layout.widen and index is not None:
        maybe_widen(chunk, layout, line, index)
    raise DataError(
        problem, path=chunk.path, line=line, hint=f"each line should hold {layout.describe()}"
    )


def maybe_widen(chunk: Chunk, layout: Layout, line: int, index: int) -> None:
    """Raise :class:`_Widen` when the bad value is fine as a string id or an ISO timestamp."""
    field = layout.fields[index]
    if field is None or field.kind != "int":
        return
    kind = "datetime" if field.name == "timestamp" else "str"
    for number, raw in chunk.lines():
        if number == line:
            try:
                value = layout.split(raw.decode(layout.encoding))[index]
            except (MalformedLine, UnicodeDecodeError, IndexError):
                return
            if check_value(value, replace(field, kind=kind)) is None:
                raise _Widen(index, kind)
            return


def concat(arrays: list[np.ndarray]) -> np.ndarray:
    if not arrays:
        return np.empty(0, dtype=np.int32)
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays)
