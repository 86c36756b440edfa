"""Items named the way people name them: raw ids or forgivingly matched titles.

A title is reduced to a key before it is compared:

* accents folded (``Misérables`` -> ``miserables``), case folded;
* a trailing year ``(1977)`` taken off (and used to disambiguate when given);
* a trailing alternative title in parentheses (``Seven (Se7en)``) indexed as a
  second name of the same item;
* an article at either end dropped (``Usual Suspects, The`` and ``The Usual
  Suspects`` both become ``usual suspects``); a foreign leading article (``Les
  Misérables`` for ``Misérables, Les``) is tried when the whole name does not match;
* apostrophes removed, any other punctuation turned into a space.

So ``"Star Wars (1977)" == "star wars" == "Star wars"`` and ``"Usual Suspects,
The (1995)" == "the usual suspects"``. A key shared by items with different
titles is ambiguous and the error lists them (add the year or use the id); a key
shared by exact duplicates (MovieLens 100K lists a few films twice) resolves to
the most rated one. An unknown title gets the closest titles by
:func:`difflib.get_close_matches`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from embrec.data.ratings import Ratings
from embrec.errors import ModelError

_YEAR = re.compile(r"\s*\((\d{4})\)\s*$")
_TRAILING_PARENS = re.compile(r"^(.*\S)\s*\(([^()]*)\)\s*$")
_ARTICLES = (
    "the", "a", "an", "les", "la", "le", "l", "il", "el", "der", "die", "das",
    "los", "las", "un", "une", "lo", "i", "de", "det", "den",
)
_TRAILING_ARTICLE = re.compile(r"^(.*\S),\s*(?:" + "|".join(_ARTICLES) + r")'?$")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=\S)")
_FOREIGN_ARTICLE = re.compile(r"^(?:" + "|".join(_ARTICLES[3:]) + r")(?:\s+|')(?=\S)")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case without accents."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def name_key(name: str) -> str:
    """The comparison key of a title without its year: see the module docstring."""
    text = fold(name)
    trailing = _TRAILING_ARTICLE.match(text)
    if trailing:
        text = trailing.group(1)
    text = _LEADING_ARTICLE.sub("", text)
    text = text.replace("'", "").replace("\u2019", "")
    return _NOT_WORD.sub(" ", text).strip()


def split_title(title: str) -> tuple[list[str], int | None]:
    """The keys a title is known by (main name first, then alternatives) and its year."""
    text = title.strip()
    year = None
    found = _YEAR.search(text)
    if found:
        year = int(found.group(1))
        text = text[: found.start()]
    names = [text]
    parens = _TRAILING_PARENS.match(text)
    if parens:
        names = [parens.group(1), parens.group(2), text]
    keys = [k for k in dict.fromkeys(name_key(n) for n in names) if k]
    return keys, year


class ItemNames:
    """Resolves raw ids and titles of a model's items to item indices."""

    def __init__(self, train: Ratings) -> None:
        self.ids = train.item_ids
        self.titles = train.titles()
        self.has_titles = train.item_info is not None and "title" in train.item_info
        self.counts = train.item_counts()
        self._by_key: dict[str, list[int]] = defaultdict(list)
        self._years: list[int | None] = []
        for index, title in enumerate(self.titles if self.has_titles else []):
            keys, year = split_title(title)
            self._years.append(year)
            for key in keys:
                self._by_key[key].append(index)

    # -- ids ------------------------------------------------------------------------

    def describe_ids(self) -> str:
        raw = self.ids.raw_ids
        if len(raw) == 0:
            return "no items"
        if self.ids.is_integer:
            return f"{len(raw)} items, ids {int(raw.min())}..{int(raw.max())}"
        return f"{len(raw)} items, ids such as {', '.join(map(str, raw[:3]))}"

    def index_of_id(self, raw_id: Any) -> int:
        return self.ids.index_of(raw_id)

    # -- resolution -----------------------------------------------------------------

    def resolve(self, item: Any) -> int:
        """Index of an item given by raw id (int, or digits) or by title; ModelError if none."""
        if isinstance(item, bool) or not isinstance(item, str | int | np.integer):
            raise ModelError(f"item {item!r} is neither an id nor a title")
        if not isinstance(item, str):
            index = self.index_of_id(int(item))
            if index < 0:
                raise ModelError(f"item {item} is not in this model ({self.describe_ids()})")
            return index
        text = item.strip()
        if not text:
            raise ModelError("an empty item name; give an item id or a title")
        by_id = self.index_of_id(text)
        if by_id >= 0 and (text.isdigit() or not self.ids.is_integer):
            return by_id
        if text.isdigit() or not self.has_titles:
            try:
                if self.has_titles:
                    return self._resolve_title(text)
            except ModelError:
                pass
            raise ModelError(f"item {text} is not in this model ({self.describe_ids()})")
        return self._resolve_title(text)

    def resolve_many(self, items: Iterable[Any]) -> np.ndarray:
        return np.asarray([self.resolve(item) for item in items], dtype=np.int64)

    def _resolve_title(self, text: str) -> int:
        keys, year = split_title(text)
        key = keys[0] if keys else ""
        if key not in self._by_key:
            key = name_key(_FOREIGN_ARTICLE.sub("", fold(_YEAR.sub("", text))))
        candidates = list(dict.fromkeys(self._by_key.get(key, [])))
        if year is not None:
            same_year = [i for i in candidates if self._years[i] == year]
            if candidates and not same_year:
                raise ModelError(
                    f"no item titled {text!r} from {year}; this model has "
                    f"{self._listing(candidates)}"
                )
            candidates = same_year
        if not candidates:
            raise ModelError(f"no item titled {text!r} in this model; {self._closest(key)}")
        if len({self.titles[i] for i in candidates}) > 1:
            raise ModelError(
                f"title {text!r} is ambiguous: {self._listing(candidates)}; "
                "add the year or give the item id"
            )
        return max(candidates, key=lambda i: (self.counts[i], -i))

    def _listing(self, indices: list[int], limit: int = 6) -> str:
        shown = [f"{self.titles[i]} [id {self.ids.to_raw([i])[0]}]" for i in indices[:limit]]
        more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
        return ", ".join(shown) + more

    def _closest(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self._by_key), n=5, cutoff=0.5)
        if not close:
            return "give an item id or check the spelling"
        indices = list(dict.fromkeys(i for k in close for i in self._by_key[k][:1]))
        return f"closest: {self._listing(indices, limit=5)}"
