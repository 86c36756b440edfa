"""How results show themselves: a few lines of text, a small table in a notebook, a DataFrame.

Every result a user holds (a trained model, a cross-validation, a sweep,
recommendations) is a :class:`TableDisplay`: ``to_pandas()`` is its full table,
``repr`` its headline over the first rows of that table (at most
:data:`REPR_ROWS` rows, cells cut at :data:`MAX_CELL` characters, so a repr
stays under about 1 KB), and ``_repr_html_`` (what Jupyter shows) the same
headline over an HTML table of at most :data:`HTML_ROWS` rows.
"""

from __future__ import annotations

from html import escape

import pandas as pd

REPR_ROWS = 10
HTML_ROWS = 12
MAX_CELL = 40
DIGITS = 4


def format_float(value: float) -> str:
    """Floats in tables: four decimals (RMSEs, scores, seconds)."""
    return f"{value:.{DIGITS}f}"


def text_table(frame: pd.DataFrame, max_rows: int = REPR_ROWS, index: bool = True) -> str:
    """The frame as aligned text, long frames cut to their first and last rows."""
    return frame.to_string(
        max_rows=max_rows, min_rows=max_rows, max_colwidth=MAX_CELL,
        float_format=format_float, na_rep="-", index=index,
    )


def html_table(
    frame: pd.DataFrame, title: str, max_rows: int = HTML_ROWS, index: bool = True
) -> str:
    """A heading and the frame as a small HTML table (escaped; long frames cut)."""
    table = frame.to_html(
        max_rows=max_rows, max_cols=12, float_format=format_float,
        na_rep="-", border=0, index=index, escape=True,
    )
    return f"<div><p><b>{escape(title)}</b></p>{table}</div>"


class TableDisplay:
    """A result shown as a headline over its table.

    Subclasses implement :meth:`headline` (one line saying what the result is)
    and :meth:`to_pandas`. Dataclasses mixing this in declare ``repr=False`` so
    that the dataclass does not write its own field-by-field ``__repr__``.
    """

    repr_rows: int = REPR_ROWS
    show_index: bool = True

    def headline(self) -> str:
        raise NotImplementedError

    def details(self) -> str:
        """A line under the headline (a model's hyperparameters), or nothing."""
        return ""

    def to_pandas(self) -> pd.DataFrame:
        raise NotImplementedError

    def repr_frame(self) -> pd.DataFrame:
        """The table the text repr shows: :meth:`to_pandas` unless a result drops columns."""
        return self.to_pandas()

    def __repr__(self) -> str:
        lines = [self.headline(), *([f"  {self.details()}"] if self.details() else [])]
        frame = self.repr_frame()
        if not frame.empty:
            lines.append(text_table(frame, self.repr_rows, self.show_index))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        html = html_table(self.to_pandas(), self.headline(), index=self.show_index)
        if self.details():
            html = html.replace("</b></p>", f"</b><br>{escape(self.details())}</p>", 1)
        return html
