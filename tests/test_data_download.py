"""download(): checksum, cache, atomic write and offline errors, against a server on 127.0.0.1."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from descentlab.data import ChecksumError, DownloadError, cache_dir, download, sha256sum

PAYLOAD = b"descentlab test payload\n" * 1000
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        type(self).hits.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy from the environment would intercept requests to 127.0.0.1.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "data.bin").write_bytes(PAYLOAD)
    _Handler.hits = []
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.hits
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def test_download_verifies_and_caches(server, tmp_path):
    base, hits = server
    cache = tmp_path / "cache"
    path = download(f"{base}/data.bin", DIGEST, cache_dir=cache)
    assert path == cache / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert sha256sum(path) == DIGEST
    assert list(cache.iterdir()) == [path]  # no temporary file left behind
    assert hits == ["/data.bin"]
    again = download(f"{base}/data.bin", DIGEST.upper(), cache_dir=cache)
    assert again == path and hits == ["/data.bin"]  # served from the cache, no second request


def test_checksum_mismatch_raises_and_leaves_nothing(server, tmp_path):
    base, _ = server
    cache = tmp_path / "cache"
    wrong = "0" * 64
    with pytest.raises(ChecksumError, match=f"expected {wrong}, got {DIGEST}"):
        download(f"{base}/data.bin", wrong, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_corrupt_cached_file_is_replaced(server, tmp_path):
    base, hits = server
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "data.bin").write_bytes(b"half a file")
    path = download(f"{base}/data.bin", DIGEST, cache_dir=cache)
    assert path.read_bytes() == PAYLOAD and hits == ["/data.bin"]


def test_mismatch_keeps_an_existing_good_file_untouched(server, tmp_path):
    base, _ = server
    cache = tmp_path / "cache"
    good = download(f"{base}/data.bin", DIGEST, cache_dir=cache, filename="x.bin")
    with pytest.raises(ChecksumError):
        download(f"{base}/data.bin", "f" * 64, cache_dir=cache, filename="x.bin")
    assert good.read_bytes() == PAYLOAD
    assert sorted(p.name for p in cache.iterdir()) == ["x.bin"]


def test_http_error_and_offline_errors(server, tmp_path):
    base, _ = server
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{base}/missing.bin", DIGEST, cache_dir=cache)
    # a port nobody listens on: connection refused -> clear offline message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="You may be offline") as info:
        download(f"http://127.0.0.1:{port}/data.bin", DIGEST, cache_dir=cache, timeout=5)
    assert str(cache / "data.bin") in str(info.value)  # says where to put the file by hand
    assert list(cache.iterdir()) == []


def test_argument_errors_and_cache_dir_env(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="64 hexadecimal"):
        download("http://127.0.0.1/x", "abc", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="pass filename"):
        download("http://127.0.0.1/", DIGEST, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="plain file name"):
        download("http://127.0.0.1/x", DIGEST, cache_dir=tmp_path, filename="../escape")
    monkeypatch.setenv("DESCENTLAB_CACHE", str(tmp_path / "env-cache"))
    assert cache_dir() == tmp_path / "env-cache"
    monkeypatch.delenv("DESCENTLAB_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "descentlab"


def test_default_cache_dir_used(server, tmp_path, monkeypatch):
    base, _ = server
    monkeypatch.setenv("DESCENTLAB_CACHE", str(tmp_path / "env-cache"))
    path = download(f"{base}/data.bin", DIGEST)
    assert path == tmp_path / "env-cache" / "data.bin"


def _fake_mnist(root: Path) -> dict[str, str]:
    """Four small gzipped IDX files with MNIST's names; returns their SHA-256 sums."""
    import gzip

    import numpy as np

    from descentlab.data import write_idx

    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    sums = {}
    for stem, array in arrays.items():
        write_idx(root / stem, array)
        gz = root / f"{stem}.gz"
        gz.write_bytes(gzip.compress((root / stem).read_bytes(), mtime=0))
        sums[gz.name] = sha256sum(gz)
    return sums


def test_fetch_mnist_downloads_checks_and_loads(server, tmp_path):
    from descentlab.data import MNIST_SHA256, fetch_fashion_mnist, fetch_mnist

    base, hits = server
    sums = _fake_mnist(tmp_path / "www")
    cache = tmp_path / "cache"
    d = fetch_mnist(cache_dir=cache, base_url=base, checksums=sums)
    assert d.x.shape == (12, 1, 28, 28) and d.x_test.shape == (5, 1, 28, 28)
    assert d.x.dtype.name == "float32" and d.x.min() >= 0.0 and d.x.max() <= 1.0
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(sums)
    assert len(hits) == 4
    fetch_mnist(cache_dir=cache, base_url=base, checksums=sums, flatten=True)
    assert len(hits) == 4  # cached: no second download
    # The published checksums are those of the real files: these fakes are refused, none kept.
    assert set(MNIST_SHA256) == set(sums)
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz"):
        fetch_fashion_mnist(cache_dir=cache, base_url=base)
    assert not list((cache / "fashion_mnist").iterdir())


def test_keras_datasets_mnist_load_data(server, tmp_path):
    import numpy as np

    from descentlab.data import read_idx
    from descentlab.keras.datasets import mnist

    base, _ = server
    sums = _fake_mnist(tmp_path / "www")
    (x, y), (xt, yt) = mnist.load_data(cache_dir=tmp_path / "c", base_url=base, checksums=sums)
    assert x.dtype == np.uint8 and x.shape == (12, 28, 28) and yt.shape == (5,)
    np.testing.assert_array_equal(x, read_idx(tmp_path / "www" / "train-images-idx3-ubyte"))
    np.testing.assert_array_equal(yt, read_idx(tmp_path / "www" / "t10k-labels-idx1-ubyte"))
