"""File formats: IDX (MNIST / Fashion-MNIST), CSV, NPZ and image folders (one folder per class).

Every reader validates what it reads and names the file, the problem and the fix.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
    >>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> read_idx(path)
    array([3, 1, 4], dtype=uint8)
"""

from __future__ import annotations

import csv
import gzip
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.data.dataset import Dataset
from descentlab.data.datasets import DatasetBunch

__all__ = [
    "read_idx",
    "write_idx",
    "load_mnist",
    "load_csv",
    "load_npz",
    "ImageFolder",
    "IMAGE_EXTENSIONS",
]

# IDX type codes (LeCun's MNIST page): data are stored big-endian.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {str(p)!r}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic number, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{str(p)!r}: corrupt or truncated gzip data ({err})") from err
    return raw


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not, into a native array.

    Layout: 2 zero bytes, a type code (0x08 uint8 ... 0x0E float64), the number of dimensions d,
    d big-endian uint32 sizes, then the data in C order, big-endian.

    Example:
        >>> read_idx("train-images-idx3-ubyte.gz").shape   # doctest: +SKIP
        (60000, 28, 28)
    """
    raw = _read_bytes(path)
    name = str(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{name!r} is not an IDX file: it must start with two zero bytes "
            f"(got {raw[:4].hex() or 'an empty file'})"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(
            f"{name!r}: unknown IDX type code 0x{code:02X}; expected one of "
            f"{', '.join(f'0x{c:02X}' for c in _IDX_TYPES)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name!r}: truncated IDX header ({len(raw)} bytes, need {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        raise ValueError(
            f"{name!r}: IDX header says shape {shape} ({expected} data bytes) but the file has "
            f"{got}; the file is truncated or corrupt, download it again"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Write `array` as an IDX file (gzipped when the name ends in .gz).

    Example:
        >>> write_idx("/tmp/x-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))   # doctest: +SKIP
    """
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=")
    if key not in _IDX_CODES:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX code; use uint8, int8, int16, int32, "
            "float32 or float64"
        )
    if arr.ndim > 255 or any(s >= 2**32 for s in arr.shape):
        raise ValueError(f"write_idx: shape {arr.shape} does not fit the IDX header")
    code = _IDX_CODES[key]
    payload = (
        bytes([0, 0, code, arr.ndim])
        + struct.pack(f">{arr.ndim}I", *arr.shape)
        + np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    )
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload)
    Path(path).write_bytes(payload)


_MNIST_FILES = {
    "x": "train-images-idx3-ubyte",
    "y": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def load_mnist(
    directory: str | os.PathLike[str], flatten: bool = False, name: str = "mnist"
) -> DatasetBunch:
    """MNIST or Fashion-MNIST from the four standard IDX files in `directory` (gzipped or not).

    x is float32 in [0, 1], shape (N, 1, 28, 28) NCHW (or (N, 784) with `flatten=True`); y int64.
    Files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte, each optionally with a .gz suffix.

    Example:
        >>> d = load_mnist("~/data/fashion-mnist", name="fashion_mnist")   # doctest: +SKIP
    """
    root = Path(directory).expanduser()
    arrays: dict[str, np.ndarray] = {}
    for key, stem in _MNIST_FILES.items():
        candidates = [root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"load_mnist: {stem}[.gz] not found in {str(root)!r}; it needs the four files "
                f"{', '.join(_MNIST_FILES.values())}"
            )
        arrays[key] = read_idx(found)
    for split in ("", "_test"):
        xs, ys = arrays["x" + split], arrays["y" + split]
        if xs.ndim != 3 or ys.ndim != 1 or len(xs) != len(ys):
            raise ValueError(
                f"load_mnist: images {xs.shape} and labels {ys.shape} in {str(root)!r} do not match "
                "(expected (N, H, W) images and N labels)"
            )

    def images(a: np.ndarray) -> np.ndarray:
        x = a.astype(np.float32) / 255.0
        return x.reshape(len(x), -1) if flatten else x[:, None]

    return DatasetBunch(
        name=name,
        x=images(arrays["x"]),
        y=arrays["y"].astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        target_names=[
            str(i) for i in range(int(max(arrays["y"].max(), arrays["y_test"].max())) + 1)
        ],
    )


def _parse_float(text: str) -> float:
    t = text.strip()
    if t == "" or t.lower() in {"na", "nan", "null", "none", "?"}:
        return float("nan")
    return float(t)


def load_csv(
    path: str | os.PathLike[str],
    target: int | str | None = -1,
    header: bool | None = None,
    delimiter: str = ",",
    dtype: Any = np.float32,
    allow_missing: bool = False,
) -> DatasetBunch:
    """A numeric CSV file as a `DatasetBunch`: features in x, the `target` column in y.

    `target` is a column name or index (default the last column; None for no target). `header`
    None detects a header row (a first row that is not all numbers). Non-numeric target values
    become class indices in sorted order (names in `target_names`); numeric whole-number targets
    become int64 labels, other numeric targets float32 (task 'regression'). Empty / NA cells raise
    an error naming row and column unless `allow_missing=True` (they become NaN).

    Example:
        >>> b = load_csv("iris.csv", target="species")   # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"load_csv: no such file: {str(p)!r}")
    with open(p, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh, delimiter=delimiter) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"load_csv: {str(p)!r} is empty")
    if header is None:
        header = not all(_is_number(c) for c in rows[0])
    names = [c.strip() for c in rows[0]] if header else [f"col{i}" for i in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise ValueError(f"load_csv: {str(p)!r} has a header but no data rows")
    width = len(names)
    for r, row in enumerate(body):
        if len(row) != width:
            line = r + (2 if header else 1)
            raise ValueError(
                f"load_csv: {str(p)!r} line {line} has {len(row)} fields, expected {width}"
            )
    if target is None:
        t_idx = None
    elif isinstance(target, str):
        if target not in names:
            import difflib

            close = difflib.get_close_matches(target, names, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise ValueError(
                f"load_csv: no column named {target!r} in {str(p)!r}.{hint} Columns: {names}"
            )
        t_idx = names.index(target)
    else:
        if not -width <= int(target) < width:
            raise ValueError(f"load_csv: target column {target} out of range for {width} columns")
        t_idx = int(target) % width
    feature_cols = [i for i in range(width) if i != t_idx]
    x = np.empty((len(body), len(feature_cols)), dtype=np.float64)
    for r, row in enumerate(body):
        for j, c in enumerate(feature_cols):
            try:
                x[r, j] = _parse_float(row[c])
            except ValueError:
                line = r + (2 if header else 1)
                raise ValueError(
                    f"load_csv: {str(p)!r} line {line}, column {names[c]!r}: {row[c]!r} is not a "
                    "number; drop or encode that column first"
                ) from None
            if not allow_missing and np.isnan(x[r, j]):
                line = r + (2 if header else 1)
                raise ValueError(
                    f"load_csv: {str(p)!r} line {line}, column {names[c]!r} is missing; clean the "
                    "file or pass allow_missing=True to read it as NaN"
                )
    bunch = DatasetBunch(
        name=p.stem,
        x=x.astype(dtype),
        y=np.zeros(len(body), dtype=np.int64),
        feature_names=[names[c] for c in feature_cols],
    )
    if t_idx is None:
        bunch.task = "unsupervised"
        bunch.y = np.empty((len(body), 0), dtype=np.float32)
        return bunch
    raw_y = [row[t_idx].strip() for row in body]
    if all(_is_number(v) for v in raw_y):
        yf = np.array([float(v) for v in raw_y])
        if np.all(yf == np.round(yf)) and np.all(np.isfinite(yf)):
            bunch.y = yf.astype(np.int64)
        else:
            bunch.y, bunch.task = yf.astype(np.float32), "regression"
    else:
        classes = sorted(set(raw_y))
        lookup = {c: i for i, c in enumerate(classes)}
        bunch.y = np.array([lookup[v] for v in raw_y], dtype=np.int64)
        bunch.target_names = classes
    return bunch


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_NPZ_PAIRS = [
    ("x", "y"),
    ("X", "y"),
    ("x_train", "y_train"),
    ("data", "target"),
    ("data", "labels"),
]


def load_npz(
    path: str | os.PathLike[str], x_key: str | None = None, y_key: str | None = None
) -> DatasetBunch:
    """Arrays from an .npz file (never unpickled) as a `DatasetBunch`.

    Keys default to the first pair found among (x, y), (X, y), (x_train, y_train) (the Keras
    mnist.npz layout), (data, target), (data, labels); `x_test` / `y_test` are picked up too.

    Example:
        >>> np.savez("/tmp/d.npz", x=np.zeros((4, 2)), y=np.arange(4))   # doctest: +SKIP
        >>> load_npz("/tmp/d.npz").x.shape                                 # doctest: +SKIP
        (4, 2)
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"load_npz: no such file: {str(p)!r}")
    try:
        archive = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise ValueError(f"load_npz: {str(p)!r} is not a readable .npz file ({err})") from err
    with archive as f:
        keys = list(f.keys())
        if x_key is None:
            pair = next((pr for pr in _NPZ_PAIRS if pr[0] in keys and pr[1] in keys), None)
            if pair is None:
                raise ValueError(
                    f"load_npz: cannot tell features from labels in {str(p)!r} (keys {keys}); "
                    "pass x_key= and y_key="
                )
            x_key, y_key = pair if y_key is None else (pair[0], y_key)
        for k in (x_key, y_key):
            if k is not None and k not in keys:
                raise ValueError(f"load_npz: key {k!r} not in {str(p)!r}; available keys: {keys}")
        try:
            x = f[x_key]
            y = f[y_key] if y_key is not None else np.empty((len(x), 0))
            x_test = f["x_test"] if "x_test" in keys and "y_test" in keys else None
            y_test = f["y_test"] if x_test is not None else None
        except ValueError as err:  # object arrays would need pickle, which we never allow
            raise ValueError(
                f"load_npz: {str(p)!r} holds pickled objects, refused ({err})"
            ) from err
    if len(x) != len(y):
        raise ValueError(
            f"load_npz: {x_key!r} has {len(x)} samples but {y_key!r} has {len(y)} in {str(p)!r}"
        )

    def labels(a: np.ndarray) -> np.ndarray:
        return a.astype(np.int64) if a.dtype.kind in "iub" else a.astype(np.float32)

    return DatasetBunch(
        name=p.stem,
        x=x.astype(np.float32),
        y=labels(y),
        x_test=None if x_test is None else x_test.astype(np.float32),
        y_test=None if y_test is None else labels(y_test),
        task="classification" if y.dtype.kind in "iub" else "regression",
    )


IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
)


class ImageFolder(Dataset):
    """Images in `root/<class name>/<file>` as a dataset of (image, label) (torchvision layout).

    Classes are the sub-folder names in sorted order (`classes`, `class_to_idx`). Each image is read
    with Pillow, converted to `mode` ('L' grayscale or 'RGB'), resized to `size` (H, W) with
    bilinear filtering if given, and returned as float32 in [0, 1], CHW (or HWC with
    `channels_last=True`). For HAM10000-style data, sort images into one folder per diagnosis.

    Example:
        >>> ds = ImageFolder("ham10000/", size=(64, 64), mode="RGB")   # doctest: +SKIP
        >>> x, y = ds.to_arrays()                                       # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        size: int | tuple[int, int] | None = None,
        mode: str = "RGB",
        channels_last: bool = False,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: no such directory: {str(self.root)!r}")
        self._configure(size, mode, channels_last, transform)
        exts = tuple(e.lower() for e in extensions)
        self.classes = sorted(
            d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith(".")
        )
        if not self.classes:
            raise ValueError(
                f"ImageFolder: {str(self.root)!r} has no class sub-folders; expected "
                "root/<class name>/<image files>"
            )
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples: list[tuple[Path, int]] = []
        for c in self.classes:
            files = sorted(
                f for f in (self.root / c).rglob("*") if f.is_file() and f.suffix.lower() in exts
            )
            self.samples.extend((f, self.class_to_idx[c]) for f in files)
        if not self.samples:
            raise ValueError(
                f"ImageFolder: no images with extensions {exts} under {str(self.root)!r}"
            )
        self.targets = np.array([t for _, t in self.samples], dtype=np.int64)

    def _configure(
        self,
        size: int | tuple[int, int] | None,
        mode: str,
        channels_last: bool,
        transform: Callable[[np.ndarray], np.ndarray] | None,
    ) -> None:
        if mode not in {"L", "RGB"}:
            raise ValueError(f"ImageFolder: mode must be 'L' (grayscale) or 'RGB', got {mode!r}")
        if isinstance(size, int):
            size = (size, size)
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(
                f"ImageFolder: size must be (height, width) of positive ints, got {size}"
            )
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.mode = mode
        self.channels_last = channels_last
        self.transform = transform

    @classmethod
    def from_csv(
        cls,
        csv_path: str | os.PathLike[str],
        image_dir: str | os.PathLike[str],
        image_column: str = "image_id",
        label_column: str = "dx",
        extension: str = ".jpg",
        size: int | tuple[int, int] | None = None,
        mode: str = "RGB",
        channels_last: bool = False,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> ImageFolder:
        """Images listed in a metadata CSV instead of class folders (HAM10000 layout:
        HAM10000_metadata.csv with columns image_id and dx, images as <image_id>.jpg).

        Classes are the sorted distinct labels; every listed image must exist.

        Example:
            >>> ds = ImageFolder.from_csv("HAM10000_metadata.csv", "images/", size=64)  # doctest: +SKIP
        """
        self = cls.__new__(cls)
        self.root = Path(image_dir).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder.from_csv: no such directory: {str(self.root)!r}")
        self._configure(size, mode, channels_last, transform)
        path = Path(csv_path)
        if not path.is_file():
            raise FileNotFoundError(f"ImageFolder.from_csv: no such file: {str(path)!r}")
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            for col in (image_column, label_column):
                if col not in columns:
                    raise ValueError(
                        f"ImageFolder.from_csv: {str(path)!r} has no column {col!r}; columns: {columns}"
                    )
            rows = [(r[image_column].strip(), r[label_column].strip()) for r in reader]
        if not rows:
            raise ValueError(f"ImageFolder.from_csv: {str(path)!r} lists no images")
        self.classes = sorted({label for _, label in rows})
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        files = [self.root / (name if Path(name).suffix else name + extension) for name, _ in rows]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(
                f"ImageFolder.from_csv: {len(missing)} of {len(files)} listed images are missing, "
                f"e.g. {str(missing[0])!r}"
            )
        self.samples = [(f, self.class_to_idx[label]) for f, (_, label) in zip(files, rows)]
        self.targets = np.array([t for _, t in self.samples], dtype=np.int64)
        return self

    def __len__(self) -> int:
        return len(self.samples)

    def load_image(self, path: str | os.PathLike[str]) -> np.ndarray:
        """One image file as a float32 array in [0, 1] (CHW, or HWC with channels_last)."""
        try:
            from PIL import Image
        except ImportError as err:
            raise ImportError("ImageFolder needs Pillow: `pip install pillow`") from err
        try:
            with Image.open(path) as img:
                img = img.convert(self.mode)
                if self.size is not None and img.size != (self.size[1], self.size[0]):
                    img = img.resize((self.size[1], self.size[0]), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
        except OSError as err:
            raise ValueError(f"ImageFolder: cannot read image {str(path)!r} ({err})") from err
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return arr if self.channels_last else np.ascontiguousarray(arr.transpose(2, 0, 1))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.int64]:
        n = len(self)
        if not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"ImageFolder: index {index!r} out of range for {n} images")
        path, label = self.samples[int(index)]
        x = self.load_image(path)
        if self.transform is not None:
            x = self.transform(x)
        return x, np.int64(label)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images stacked into one array (needs `size` unless all images share a shape)."""
        images = [self.load_image(p) for p, _ in self.samples]
        shapes = {a.shape for a in images}
        if len(shapes) > 1:
            raise ValueError(
                f"ImageFolder.to_arrays: images have different shapes {sorted(shapes)[:3]}...; "
                "pass size=(H, W) to resize them"
            )
        return np.stack(images), self.targets.copy()

    def __repr__(self) -> str:
        return (
            f"ImageFolder(root={str(self.root)!r}, images={len(self)}, classes={len(self.classes)}, "
            f"size={self.size}, mode={self.mode!r})"
        )
