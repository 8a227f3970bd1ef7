"""Download a file once into a cache directory, verified by its SHA-256 checksum.

The cache directory is `$DESCENTLAB_CACHE`, else `~/.cache/descentlab`. A download streams into a
temporary file in the cache directory, is hashed on the way, and is moved into place with
`os.replace` only if the checksum matches, so the cache never holds a partial or wrong file.

Example:
    >>> path = download("https://example.org/data.npz",
    ...                 sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.parse
from pathlib import Path

__all__ = ["download", "cache_dir", "sha256sum", "ChecksumError", "DownloadError"]

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """The downloaded bytes do not have the expected SHA-256."""


class DownloadError(ConnectionError):
    """The file could not be fetched (offline, DNS failure, HTTP error)."""


def cache_dir() -> Path:
    """`$DESCENTLAB_CACHE` if set, else `~/.cache/descentlab` (not created here)."""
    env = os.environ.get("DESCENTLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "descentlab"


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _filename_from(url: str) -> str:
    name = Path(urllib.parse.urlparse(url).path).name
    if not name:
        raise ValueError(f"download: cannot take a file name from URL {url!r}; pass filename=")
    return name


def download(
    url: str,
    sha256: str,
    cache_dir: str | os.PathLike[str] | None = None,
    filename: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch `url` into the cache (once) and return its path; the file's SHA-256 must equal `sha256`.

    A cached file with the right checksum is returned without touching the network; one with a
    wrong checksum is fetched again. On a checksum mismatch the download is deleted and
    `ChecksumError` is raised; when the network is unreachable `DownloadError` says so and where
    to put the file by hand.

    Example:
        >>> p = download("http://127.0.0.1:8000/x.bin", sha256="...")   # doctest: +SKIP
    """
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(
            f"download: sha256 must be 64 hexadecimal characters, got {sha256!r}; compute it with "
            "`sha256sum FILE` or descentlab.data.sha256sum(path)"
        )
    import urllib.error  # lazy: urllib.request pulls in http.client, email and ssl
    import urllib.request

    expected = sha256.lower()
    directory = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache()
    name = filename or _filename_from(url)
    if Path(name).name != name or name in {".", ".."}:
        raise ValueError(f"download: filename must be a plain file name, got {name!r}")
    target = directory / name
    if target.is_file() and sha256sum(target) == expected:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        h.update(chunk)
                        out.write(chunk)
            except urllib.error.HTTPError as err:
                raise DownloadError(
                    f"download: {url} answered HTTP {err.code} ({err.reason}); check the URL"
                ) from err
            except (urllib.error.URLError, TimeoutError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise DownloadError(
                    f"download: cannot reach {url} ({reason}). You may be offline: connect, or "
                    f"copy the file by hand to {str(target)!r} (SHA-256 {expected})"
                ) from err
            out.flush()
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if actual != expected:
            raise ChecksumError(
                f"download: SHA-256 mismatch for {url}: expected {expected}, got {actual}; the "
                "file was discarded (corrupt download or wrong checksum)"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _default_cache() -> Path:
    return cache_dir()
