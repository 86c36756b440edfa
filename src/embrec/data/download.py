"""Download an official dataset archive into the cache, verified, all or nothing.

The archive is streamed into a hidden staging folder inside the cache while its
size and SHA-256 (or MD5, where only that is published) are checked; then the
zip's CRCs are tested, it is extracted in the staging folder, and the dataset
folder is renamed into place. A failed, interrupted or corrupt download leaves
nothing behind in the cache. While it runs, stderr says where the archive comes
from and where it goes, then the bytes received (:mod:`embrec.data.progress`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from embrec.data.progress import DownloadProgress, announce
from embrec.errors import DataError

BLOCK_BYTES = 1 << 20
TIMEOUT_S = 10.0


class DownloadError(DataError):
    """An archive that could not be fetched or did not pass its checks."""


def fetch_archive(
    url: str,
    target: Path,
    *,
    archive_folder: str,
    size: int | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download ``url`` (a zip), verify it, and extract its ``archive_folder`` as ``target``.

    Returns ``target``. Raises :class:`DownloadError` (a :class:`DataError`) when the
    host cannot be reached, the size or checksum differ, or the zip is corrupt.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    announce(archive_folder, url, target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-download-", dir=target.parent))
    try:
        archive = staging / "archive.zip"
        download(url, archive, size=size, sha256=sha256, md5=md5, timeout=timeout)
        extract(archive, staging / "extracted", url)
        folder = staging / "extracted" / archive_folder
        if not folder.is_dir():
            raise DownloadError(f"the archive from {url} holds no folder {archive_folder}/")
        if not target.exists():
            os.replace(folder, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = TIMEOUT_S,
) -> None:
    """Stream ``url`` into ``dest``, checking the size and checksums on the way.

    The bytes received are shown on stderr as they arrive.
    """
    sha = hashlib.sha256()
    md = hashlib.md5(usedforsecurity=False)
    received = 0
    progress: DownloadProgress | None = None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            length = response.headers.get("Content-Length")
            announced = int(length) if length and length.isdigit() else None
            if size is not None and announced is not None and announced != size:
                raise DownloadError(
                    f"{url} is {announced:,} bytes, expected {size:,}",
                    hint="the file on the server is not the published archive",
                )
            total = size if size is not None else announced
            progress = DownloadProgress(Path(urlsplit(url).path).name or url, total)
            while block := response.read(BLOCK_BYTES):
                received += len(block)
                if size is not None and received > size:
                    raise DownloadError(f"{url} is larger than the expected {size:,} bytes")
                sha.update(block)
                md.update(block)
                out.write(block)
                progress.update(received)
            progress.finish(received)
            progress = None
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"cannot download {url}: {reason}") from None
    finally:
        if progress is not None:
            progress.close()
    if size is not None and received != size:
        raise DownloadError(
            f"{url} gave {received:,} bytes, expected {size:,} (incomplete download)"
        )
    if sha256 is not None and sha.hexdigest() != sha256.lower():
        raise DownloadError(
            f"checksum mismatch for {url}: sha256 {sha.hexdigest()}, expected {sha256}",
            hint="the download is corrupt or the file changed on the server; nothing was kept",
        )
    if md5 is not None and md.hexdigest() != md5.lower():
        raise DownloadError(
            f"checksum mismatch for {url}: md5 {md.hexdigest()}, expected {md5}",
            hint="the download is corrupt or the file changed on the server; nothing was kept",
        )


def extract(archive: Path, dest: Path, url: str) -> None:
    """Test every member's CRC, then extract (refusing paths that leave ``dest``)."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            broken = zipped.testzip()
            if broken is not None:
                raise DownloadError(f"the archive from {url} is corrupt: bad CRC in {broken}")
            root = dest.resolve()
            for member in zipped.namelist():
                if not (root / member).resolve().is_relative_to(root):
                    raise DownloadError(f"the archive from {url} has an unsafe path {member!r}")
            zipped.extractall(dest)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise DownloadError(f"the archive from {url} is not a valid zip: {exc}") from None
