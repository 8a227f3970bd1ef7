"""MNIST and Fashion-MNIST fetched from the web once, checked against their published SHA-256
sums, cached, and loaded with `load_mnist` (what `keras.datasets.mnist.load_data()` and
`torchvision.datasets.MNIST(download=True)` do for their users).

The cache is `descentlab.data.cache_dir()` (env DESCENTLAB_CACHE, else ~/.cache/descentlab), one
folder per dataset; offline, copy the four .gz files there by hand.

Example:
    >>> d = fetch_mnist()                          # ~11 MB on the first call  # doctest: +SKIP
    >>> d.x.shape, d.x_test.shape                                              # doctest: +SKIP
    ((60000, 1, 28, 28), (10000, 1, 28, 28))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from descentlab.data.datasets import DatasetBunch
from descentlab.data.download import cache_dir as _cache_dir
from descentlab.data.download import download
from descentlab.data.formats import load_mnist

__all__ = ["fetch_mnist", "fetch_fashion_mnist", "MNIST_SHA256", "FASHION_MNIST_SHA256"]

#: SHA-256 of the four files as published (LeCun's MNIST; identical on every mirror).
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
#: SHA-256 of Zalando's Fashion-MNIST files.
FASHION_MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    "train-labels-idx1-ubyte.gz": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    "t10k-images-idx3-ubyte.gz": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    "t10k-labels-idx1-ubyte.gz": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
}
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"  # TensorFlow's mirror
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def _fetch(name: str, base_url: str, checksums: Mapping[str, str],
           cache_dir: str | os.PathLike[str] | None, flatten: bool) -> DatasetBunch:  # fmt: skip
    folder = (Path(cache_dir).expanduser() if cache_dir is not None else _cache_dir()) / name
    base = base_url if base_url.endswith("/") else base_url + "/"
    for filename, sha256 in checksums.items():
        download(base + filename, sha256, cache_dir=folder, filename=filename)
    return load_mnist(folder, flatten=flatten, name=name)


def fetch_mnist(cache_dir: str | os.PathLike[str] | None = None, flatten: bool = False,
                base_url: str = MNIST_URL,
                checksums: Mapping[str, str] = MNIST_SHA256) -> DatasetBunch:  # fmt: skip
    """MNIST (60,000 train / 10,000 test 28x28 digits), downloaded once and checked.

    x is float32 in [0, 1], (N, 1, 28, 28) or (N, 784) with `flatten=True`; y int64. Each file
    must match its published SHA-256 (`checksums`; pass your own for a mirror that recompressed
    them); a mismatch deletes the download and raises `ChecksumError`.
    """
    return _fetch("mnist", base_url, checksums, cache_dir, flatten)


def fetch_fashion_mnist(cache_dir: str | os.PathLike[str] | None = None, flatten: bool = False,
                        base_url: str = FASHION_MNIST_URL,
                        checksums: Mapping[str, str] = FASHION_MNIST_SHA256) -> DatasetBunch:  # fmt: skip
    """Fashion-MNIST (Zalando; 10 clothing classes, MNIST's shapes), downloaded once and checked;
    arguments as `fetch_mnist`."""
    return _fetch("fashion_mnist", base_url, checksums, cache_dir, flatten)
