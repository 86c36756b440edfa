"""Downloads: verified archives load, bad ones leave nothing in the cache, failures are fast."""

from __future__ import annotations

import hashlib
import io
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from embrec.data.datasets import DATA_ENV, DATASETS, Dataset, load_dataset
from embrec.data.progress import MB, DownloadProgress
from embrec.data.recbole_source import run_pip
from embrec.errors import DataError

GENRE_FLAGS = "|".join("0" * 18 + "1")


def ml100k_zip() -> bytes:
    """A tiny archive in the official ml-100k layout (top folder ``ml-100k/``)."""
    files = {
        "u.data": "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n",
        "u.item": f"1|Toy Story (1995)|01-Jan-1995|||{GENRE_FLAGS}\n"
        f"2|GoldenEye (1995)|01-Jan-1995|||{GENRE_FLAGS}\n",
        "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/", "")
        for name, text in files.items():
            archive.writestr(f"ml-100k/{name}", text.encode("latin-1"))
    return buffer.getvalue()


class Server:
    """A local HTTP server: ``files`` maps paths to bodies; ``hits`` counts requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.hits += 1
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ENV, raising=False)


def register(monkeypatch, url: str, body: bytes, **checks) -> None:
    entry = Dataset("tiny-100k", ("ml-100k",), "ml-100k", url=url, **checks)
    monkeypatch.setitem(DATASETS, "tiny-100k", entry)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize("checksum", ["sha256", "md5"])
def test_a_verified_archive_is_extracted_and_loaded(
    server: Server, tmp_path: Path, monkeypatch, capsys, checksum: str
) -> None:
    body = ml100k_zip()
    server.files["/ml-100k.zip"] = body
    digest = getattr(hashlib, checksum)(body).hexdigest()
    register(monkeypatch, f"{server.url}/ml-100k.zip", body, size=len(body), **{checksum: digest})
    cache = tmp_path / "cache"
    ratings = load_dataset("tiny-100k", tmp_path / "empty", cache_dir=cache)
    assert (len(ratings), ratings.n_users, ratings.n_items) == (3, 2, 2)
    assert ratings.titles() == ["Toy Story (1995)", "GoldenEye (1995)"]
    assert sorted(p.name for p in (cache / "datasets").iterdir()) == ["ml-100k"]
    out, err = capsys.readouterr()
    url = f"{server.url}/ml-100k.zip"
    assert out == ""
    target = cache / "datasets" / "ml-100k"
    assert err.splitlines()[0] == f"downloading ml-100k from {url} into {target}"
    assert f"ml-100k.zip: {len(body)} B of {len(body)} B (100%)" in err.splitlines()
    again = load_dataset("tiny-100k", tmp_path / "empty", cache_dir=cache)
    assert server.hits == 1 and again.fingerprint() == ratings.fingerprint()
    assert capsys.readouterr().err == ""  # nothing to say when the cache has it


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_line_per_tenth_in_a_log_and_one_rewritten_line_on_a_terminal() -> None:
    log = io.StringIO()
    progress = DownloadProgress("ml-1m.zip", 20 * MB, stream=log)
    for received in range(0, 20 * MB + 1, MB // 2):
        progress.update(received)
    progress.finish(20 * MB)
    lines = log.getvalue().splitlines()
    assert lines[0] == "ml-1m.zip: 0 B of 20.0 MB (0%)"
    assert lines[1] == "ml-1m.zip: 2.0 MB of 20.0 MB (10%)"
    assert lines[10] == "ml-1m.zip: 20.0 MB of 20.0 MB (100%)"
    assert len(lines) == 12 and lines[11].startswith("ml-1m.zip: 20.0 MB in ")

    terminal = Terminal()
    progress = DownloadProgress("ml-1m.zip", 20 * MB, stream=terminal)
    for received in range(0, 20 * MB + 1, MB // 2):
        progress.update(received)
    progress.finish(20 * MB)
    text = terminal.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.rstrip().endswith(" s")
    assert text.count("\r") == 42  # 41 distinct percents (0, 2.5 -> 2, ... 100) and the end
    assert "\rml-1m.zip: 10.0 MB of 20.0 MB (50%)" in text


def test_a_failed_download_ends_its_progress_line(tmp_path: Path) -> None:
    terminal = Terminal()
    progress = DownloadProgress("x.zip", None, stream=terminal)
    progress.update(3 * MB)
    progress.close()
    assert terminal.getvalue() == "\rx.zip: 3.0 MB\n"


def test_a_bad_checksum_is_refused_and_nothing_is_kept(
    server: Server, tmp_path: Path, monkeypatch
) -> None:
    body = ml100k_zip()
    server.files["/ml-100k.zip"] = body
    register(monkeypatch, f"{server.url}/ml-100k.zip", body, size=len(body), sha256="0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="checksum mismatch") as caught:
        load_dataset("tiny-100k", tmp_path / "empty", cache_dir=cache)
    assert "ml-100k/" in str(caught.value) and DATA_ENV in str(caught.value)
    assert files_under(cache) == []
    assert [p.name for p in (cache / "datasets").iterdir()] == []


def test_a_short_download_is_refused(server: Server, tmp_path: Path, monkeypatch) -> None:
    body = ml100k_zip()
    server.files["/ml-100k.zip"] = body[:-10]
    register(monkeypatch, f"{server.url}/ml-100k.zip", body, size=len(body))
    with pytest.raises(DataError, match="expected"):
        load_dataset("tiny-100k", tmp_path / "empty", cache_dir=tmp_path / "cache")
    assert files_under(tmp_path / "cache") == []


def test_a_corrupt_zip_without_checksum_is_refused(
    server: Server, tmp_path: Path, monkeypatch
) -> None:
    body = bytearray(ml100k_zip())
    body[body.index(b"ml-100k/u.data") + 20] ^= 0xFF
    server.files["/ml-100k.zip"] = bytes(body)
    register(monkeypatch, f"{server.url}/ml-100k.zip", bytes(body))
    with pytest.raises(DataError, match="corrupt|not a valid zip"):
        load_dataset("tiny-100k", tmp_path / "empty", cache_dir=tmp_path / "cache")
    assert files_under(tmp_path / "cache") == []


def test_missing_archive_and_unreachable_host_fail_fast(
    server: Server, tmp_path: Path, monkeypatch
) -> None:
    register(monkeypatch, f"{server.url}/nothing.zip", b"")
    with pytest.raises(DataError, match="cannot download .*HTTP 404"):
        load_dataset("tiny-100k", tmp_path / "empty", cache_dir=tmp_path / "cache")
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()
    register(monkeypatch, f"http://127.0.0.1:{port}/ml-100k.zip", b"")
    started = time.perf_counter()
    with pytest.raises(DataError, match="cannot download"):
        load_dataset("tiny-100k", tmp_path / "empty", cache_dir=tmp_path / "cache")
    assert time.perf_counter() - started < 5
    assert files_under(tmp_path / "cache") == []


def test_download_off_says_where_to_put_the_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_dataset("ml-25m", tmp_path, download=False, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert f"{tmp_path / 'ml-25m'}/" in message and "ratings.csv, movies.csv" in message
    assert DATA_ENV in message


def test_pip_lines_about_the_download_are_passed_on_and_the_rest_kept(capsys) -> None:
    script = "print('WARNING: an index is ignored'); print('  Downloading x.whl (2.1 MB)')"
    code, lines = run_pip([sys.executable, "-c", script], timeout=60)
    assert code == 0 and lines == ["WARNING: an index is ignored", "  Downloading x.whl (2.1 MB)"]
    assert capsys.readouterr().err == "  pip: Downloading x.whl (2.1 MB)\n"


def test_a_pip_that_hangs_is_stopped_at_its_timeout() -> None:
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"pip download recbole==1\.2\.1 failed: no answer in 1 s"):
        run_pip([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1)
    assert time.perf_counter() - started < 10


def test_when_grouplens_fails_stderr_says_why_before_the_package_index_is_tried(
    server: Server, tmp_path: Path, monkeypatch, capsys
) -> None:
    url = f"{server.url}/ml-100k.zip"  # nothing there: HTTP 404
    monkeypatch.setitem(DATASETS, "ml-100k", replace(DATASETS["ml-100k"], url=url))
    tried: list[Path] = []

    def from_the_index(target: Path) -> Path:
        tried.append(target)
        target.mkdir(parents=True)
        (target / "u.data").write_text("1\t1\t5\t874965758\n")
        return target

    monkeypatch.setattr("embrec.data.datasets.fetch_ml100k_from_recbole", from_the_index)
    cache = tmp_path / "cache"
    assert len(load_dataset("ml-100k", tmp_path / "empty", cache_dir=cache)) == 1
    target = cache / "datasets" / "ml-100k"
    assert tried == [target]
    assert capsys.readouterr().err.splitlines() == [
        f"downloading ml-100k from {url} into {target}",
        f"cannot download {url}: HTTP 404 Not Found; trying the recbole wheel on PyPI",
    ]
