"""A second source for ml-100k: the copy inside the RecBole 1.2.1 wheel on PyPI.

The ``recbole==1.2.1`` wheel ships ``recbole/dataset_example/ml-100k/`` with
``ml-100k.inter`` (the 100,000 rows of ``u.data`` in the same order, under a
RecBole header), ``ml-100k.item`` (title without the year, release year, genres)
and ``ml-100k.user`` (the rows of ``u.user``). Fetched with ``pip download``
(the package index is often reachable where files.grouplens.org is not), the
wheel and each file are checked against the SHA-256 recorded here, then
converted to the official layout:

* ``u.data``: the ``.inter`` rows without the header (byte-identical to GroupLens' ``u.data``);
* ``u.item``: ``id|Title (Year)|||`` + 19 genre flags, latin-1 (RecBole split
  the last parenthesised part off the title; it is put back, so
  ``... (1995) (V)`` survives). RecBole has no
  release date, video release date or IMDb URL (left empty); its one typo
  (``unkonwn`` for movie 267, which GroupLens calls ``unknown``) is undone. Three
  GroupLens titles end with a blank (``Two Friends (1986) ``...) that RecBole
  lacks; readers strip titles, so the item metadata is the same;
* ``u.user``, ``u.genre``, ``u.info``;
* ``u1.base`` .. ``u5.test``, ``ua``/``ub``: made as GroupLens' ``mku.sh`` and
  ``allbut.pl`` make them (20,000-row blocks of ``u.data``; the first 10 and the
  next 10 ratings of each user), sorted by user then item — byte-identical to the
  files of the GroupLens archive.

While it runs, stderr says where the files come from and where they go, and
passes on pip's ``Downloading <wheel> (<size>)`` line as it comes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from embrec.data.progress import announce, megabytes, say
from embrec.data.readers.metadata import ML100K_GENRES
from embrec.errors import DataError

RECBOLE_VERSION = "1.2.1"
WHEEL_NAME = f"recbole-{RECBOLE_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
MEMBER_DIR = "recbole/dataset_example/ml-100k"
MEMBER_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
PIP_TIMEOUT_S = 180
SPLIT_BLOCK = 20_000
PIP_PROGRESS_PREFIXES = ("Downloading", "File was already downloaded")


def fetch_ml100k_from_recbole(target: Path, *, timeout: float = PIP_TIMEOUT_S) -> Path:
    """Build the official ml-100k folder at ``target`` from the RecBole wheel.

    The folder appears all at once (built in a staging folder, then renamed).
    Raises :class:`DataError` when the wheel cannot be fetched or fails its checks.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    announce("ml-100k", f"the recbole=={RECBOLE_VERSION} wheel on the package index (pip)", target)
    staging = Path(tempfile.mkdtemp(prefix=".ml-100k-recbole-", dir=target.parent))
    try:
        wheel = fetch_wheel(staging / "wheel", timeout)
        members = read_members(wheel)
        folder = staging / "ml-100k"
        folder.mkdir()
        write_official_layout(members, folder)
        provenance = {"source": f"recbole=={RECBOLE_VERSION} wheel", "wheel_sha256": WHEEL_SHA256}
        (folder / "SOURCE.json").write_text(json.dumps(provenance), encoding="utf-8")
        if not target.exists():
            os.replace(folder, target)
        files = sum(1 for path in target.iterdir() if path.is_file())
        say(f"ml-100k: {files} files in the official layout written to {target}")
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_wheel(dest: Path, timeout: float) -> Path:
    """``pip download`` the wheel (no dependencies) and check its SHA-256."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += ["--disable-pip-version-check", "--progress-bar", "off", "--timeout", "20"]
    command += ["--retries", "1"]
    command += [f"recbole=={RECBOLE_VERSION}", "-d", str(dest)]
    started = time.perf_counter()
    code, output = run_pip(command, timeout)
    wheel = dest / WHEEL_NAME
    if code != 0 or not wheel.is_file():
        last = [line for line in output if line.strip()][-1:] or ["no wheel"]
        raise DataError(f"pip download recbole=={RECBOLE_VERSION} failed: {last[0].strip()}")
    data = wheel.read_bytes()
    digest = sha256_of(data)
    if digest != WHEEL_SHA256:
        raise DataError(
            f"checksum mismatch for {WHEEL_NAME}: sha256 {digest}, expected {WHEEL_SHA256}",
            hint="the package index served a different file; nothing was kept",
        )
    seconds = time.perf_counter() - started
    say(f"{WHEEL_NAME}: {megabytes(len(data))} in {seconds:.1f} s, sha256 checked")
    return wheel


def run_pip(command: list[str], timeout: float) -> tuple[int, list[str]]:
    """Run pip; its download line goes to stderr as it comes. (exit code, all its lines).

    A pip that cannot be started, or runs past ``timeout`` seconds (then killed),
    raises :class:`DataError`.
    """
    try:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except OSError as exc:
        raise DataError(f"pip download recbole=={RECBOLE_VERSION} failed: {exc}") from None
    lines: list[str] = []

    def relay() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.strip().startswith(PIP_PROGRESS_PREFIXES):
                say(f"  pip: {line.strip()}")

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise DataError(
            f"pip download recbole=={RECBOLE_VERSION} failed: no answer in {timeout:.0f} s"
        ) from None
    finally:
        reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
    return code, lines


def read_members(wheel: Path) -> dict[str, bytes]:
    """The three ml-100k files from the wheel, each checked against its SHA-256."""
    out = {}
    try:
        with zipfile.ZipFile(wheel) as zipped:
            for name, expected in MEMBER_SHA256.items():
                data = zipped.read(f"{MEMBER_DIR}/{name}")
                if sha256_of(data) != expected:
                    raise DataError(f"checksum mismatch for {name} in {WHEEL_NAME}")
                out[name] = data
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataError(f"{WHEEL_NAME} is not usable: {exc}") from None
    return out


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def body_lines(data: bytes) -> list[list[str]]:
    """The tab-separated rows of a RecBole atomic file, without its typed header."""
    lines = data.decode("utf-8").split("\n")[1:]
    return [line.split("\t") for line in lines if line]


def write_official_layout(members: dict[str, bytes], folder: Path) -> None:
    inter = members["ml-100k.inter"]
    u_data = inter[inter.index(b"\n") + 1 :]
    (folder / "u.data").write_bytes(u_data)
    (folder / "u.item").write_bytes(item_lines(members["ml-100k.item"]).encode("latin-1"))
    users = "".join("|".join(row) + "\n" for row in body_lines(members["ml-100k.user"]))
    (folder / "u.user").write_text(users, encoding="latin-1")
    genres = "".join(f"{name}|{i}\n" for i, name in enumerate(ML100K_GENRES)) + "\n"
    (folder / "u.genre").write_text(genres, encoding="ascii")
    rows = u_data.splitlines(keepends=True)
    n_users = len({r.split(b"\t", 1)[0] for r in rows})
    n_items = len({r.split(b"\t", 2)[1] for r in rows})
    info = f"{n_users} users\n{n_items} items\n{len(rows)} ratings\n"
    (folder / "u.info").write_text(info, encoding="ascii")
    write_splits(rows, folder)


def item_lines(data: bytes) -> str:
    """``u.item`` text from RecBole's ``item_id, movie_title, release_year, class`` rows."""
    out = []
    for item_id, title, year, classes in body_lines(data):
        if title == "unkonwn":
            title, year = "unknown", ""
        full = f"{title} ({year})" if year else title
        present = set(classes.split(" "))
        flags = ["1" if genre in present else "0" for genre in ML100K_GENRES]
        out.append("|".join([item_id, full, "", "", "", *flags]) + "\n")
    return "".join(out)


def _user_item(row: bytes) -> tuple[int, int]:
    user, item, _ = row.split(b"\t", 2)
    return int(user), int(item)


def write_splits(rows: list[bytes], folder: Path) -> None:
    """The five-fold and ua/ub splits of the GroupLens archive (``mku.sh``, ``allbut.pl``)."""

    def write(name: str, part: list[bytes]) -> None:
        (folder / name).write_bytes(b"".join(sorted(part, key=_user_item)))

    for fold in range(1, 6):
        low, high = (fold - 1) * SPLIT_BLOCK, fold * SPLIT_BLOCK
        write(f"u{fold}.test", rows[low:high])
        write(f"u{fold}.base", rows[:low] + rows[high:])
    for name, (first, last) in {"ua": (1, 10), "ub": (11, 20)}.items():
        seen: dict[bytes, int] = {}
        base, test = [], []
        for row in rows:
            user = row.split(b"\t", 1)[0]
            seen[user] = seen.get(user, 0) + 1
            (test if first <= seen[user] <= last else base).append(row)
        write(f"{name}.base", base)
        write(f"{name}.test", test)
