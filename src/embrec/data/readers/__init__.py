"""Readers for the official rating formats and for generic tables.

Each reader returns a :class:`~embrec.data.ratings.Ratings` (or raises a one-line
:class:`~embrec.errors.DataError` naming the file, the line and the problem):

* :func:`read_movielens` — a MovieLens release folder (ml-100k, ml-1m, ml-10m,
  ml-20m, ml-25m, ml-32m, ml-latest, ml-latest-small) with item/user metadata;
* :func:`read_rating_file` — one MovieLens rating file (``tab``, ``dat``, ``csv``);
* :func:`read_netflix`, :func:`read_netflix_probe` — the Netflix Prize files;
* :func:`read_table` — any CSV/TSV/Parquet with named columns.
"""

from embrec.data.readers.movielens import read_movielens, read_rating_file
from embrec.data.readers.netflix import read_netflix, read_netflix_probe
from embrec.data.readers.table import read_table

__all__ = [
    "read_movielens",
    "read_netflix",
    "read_netflix_probe",
    "read_rating_file",
    "read_table",
]
