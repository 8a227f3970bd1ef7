"""Image augmentation on NumPy arrays: flips, shifts / crops, small rotations, noise.

Each transform is a callable on a batch (N, C, H, W) or one image (C, H, W); with
`channels_last=True` on (N, H, W, C) or (H, W, C). A 2-D array is one (H, W) image. Every image
in a batch gets its own random draw, vectorised (no Python loop over images). Randomness comes
from `generator`, else the global descentlab generator, so seeded runs repeat exactly. Use them
as `DataLoader(..., transform=Compose([...]))`; the loader applies them to the input batch.

Example:
    >>> import numpy as np
    >>> aug = Compose([RandomHorizontalFlip(), RandomShift(2), GaussianNoise(0.05)])
    >>> x = np.zeros((8, 1, 28, 28), np.float32)
    >>> aug(x).shape
    (8, 1, 28, 28)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from descentlab.random import resolve

__all__ = [
    "Compose",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomCrop",
    "RandomShift",
    "RandomRotation",
    "GaussianNoise",
    "Normalize",
]


class _Transform:
    """Shared plumbing: bring any accepted layout to (N, C, H, W) and back."""

    def __init__(self, channels_last: bool = False, generator: np.random.Generator | None = None):
        self.channels_last = channels_last
        self.generator = generator

    @property
    def rng(self) -> np.random.Generator:
        return resolve(self.generator)

    def _to_nchw(self, x: Any) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        arr = np.asarray(getattr(x, "data", x) if not isinstance(x, np.ndarray) else x)
        name = type(self).__name__
        if arr.ndim == 2:
            return arr[None, None], lambda y: y[0, 0]
        if arr.ndim == 3:
            if self.channels_last:
                return arr.transpose(2, 0, 1)[None], lambda y: y[0].transpose(1, 2, 0)
            return arr[None], lambda y: y[0]
        if arr.ndim == 4:
            if self.channels_last:
                return arr.transpose(0, 3, 1, 2), lambda y: y.transpose(0, 2, 3, 1)
            return arr, lambda y: y
        layout = "(N, H, W, C) or (H, W, C)" if self.channels_last else "(N, C, H, W) or (C, H, W)"
        raise ValueError(
            f"{name}: expected an image {layout} or (H, W), got shape {arr.shape}; flat vectors "
            "must be reshaped to images first"
        )

    def __call__(self, x: Any) -> np.ndarray:
        batch, back = self._to_nchw(x)
        return np.ascontiguousarray(back(self.apply(batch)))

    def apply(self, x: np.ndarray) -> np.ndarray:  # (N, C, H, W) -> (N, C, H, W)
        raise NotImplementedError


class Compose:
    """Apply transforms in order: Compose([f, g])(x) = g(f(x)).

    Example:
        >>> Compose([lambda a: a + 1, lambda a: a * 2])(np.array([1.0]))
        array([4.])
    """

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> np.ndarray:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


def _check_p(p: float, owner: str) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{owner}: p must be a probability in [0, 1], got {p}")
    return float(p)


class RandomHorizontalFlip(_Transform):
    """Mirror each image left-right with probability p (torchvision convention).

    Example:
        >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]]))
        array([[3, 2, 1]])
    """

    def __init__(self, p: float = 0.5, channels_last: bool = False, generator: Any = None):
        super().__init__(channels_last, generator)
        self.p = _check_p(p, "RandomHorizontalFlip")

    def apply(self, x: np.ndarray) -> np.ndarray:
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomVerticalFlip(_Transform):
    """Mirror each image top-bottom with probability p.

    Example:
        >>> RandomVerticalFlip(p=1.0)(np.array([[1], [2]])).ravel()
        array([2, 1])
    """

    def __init__(self, p: float = 0.5, channels_last: bool = False, generator: Any = None):
        super().__init__(channels_last, generator)
        self.p = _check_p(p, "RandomVerticalFlip")

    def apply(self, x: np.ndarray) -> np.ndarray:
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1, :]
        return out


class RandomCrop(_Transform):
    """Pad each image by `padding` pixels (constant `fill`), then cut a random `size` window.

    Offsets are uniform over all valid positions, per image (torchvision RandomCrop with
    padding_mode='constant'). `size` is an int or (H, W); default the input size.

    Example:
        >>> RandomCrop(size=2)(np.arange(9.0).reshape(3, 3)).shape
        (2, 2)
    """

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        padding: int = 0,
        fill: float = 0.0,
        channels_last: bool = False,
        generator: Any = None,
    ):
        super().__init__(channels_last, generator)
        owner = type(self).__name__
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(
                f"{owner}: padding / max_shift must be an integer >= 0 pixels, got {padding!r}"
            )
        if isinstance(size, (int, np.integer)):
            size = (int(size), int(size))
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(
                f"{owner}: size must be a positive int or (height, width), got {size!r}"
            )
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.padding = int(padding)
        self.fill = fill

    def apply(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        th, tw = (h, w) if self.size is None else self.size
        p = self.padding
        if th > h + 2 * p or tw > w + 2 * p or th < 1 or tw < 1:
            raise ValueError(
                f"{type(self).__name__}: crop size {(th, tw)} does not fit an image of {(h, w)} "
                f"padded by {p}"
            )
        padded = x
        if p:
            padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        rng = self.rng
        top = rng.integers(0, h + 2 * p - th + 1, size=n)
        left = rng.integers(0, w + 2 * p - tw + 1, size=n)
        rows = (top[:, None] + np.arange(th))[:, :, None]  # (N, th, 1)
        cols = (left[:, None] + np.arange(tw))[:, None, :]  # (N, 1, tw)
        # Advanced indices around the channel slice put the indexed axes first: (N, th, tw, C).
        out = padded[np.arange(n)[:, None, None], :, rows, cols]
        return out.transpose(0, 3, 1, 2)


class RandomShift(RandomCrop):
    """Translate each image by up to `max_shift` pixels in each direction, filling with `fill`.

    Same as RandomCrop(size=input size, padding=max_shift): shifts are uniform integers in
    [-max_shift, max_shift] for rows and columns independently.

    Example:
        >>> out = RandomShift(1, generator=np.random.default_rng(0))(np.ones((4, 4)))
        >>> out.shape, float(out.sum()) >= 9.0
        ((4, 4), True)
    """

    def __init__(
        self,
        max_shift: int = 2,
        fill: float = 0.0,
        channels_last: bool = False,
        generator: Any = None,
    ):
        super().__init__(None, max_shift, fill, channels_last, generator)
        self.max_shift = int(max_shift)


class RandomRotation(_Transform):
    """Rotate each image about its centre by an angle drawn uniformly from [-degrees, degrees].

    Inverse mapping: output pixel p takes the input at R(-angle)(p - c) + c, sampled with
    'bilinear' or 'nearest' interpolation; points outside the image take `fill`. Positive angles
    turn counter-clockwise on screen (torchvision convention). Pure NumPy (no SciPy).

    Example:
        >>> img = np.zeros((5, 5)); img[2, :] = 1
        >>> RandomRotation((90, 90), interpolation="nearest")(img)[:, 2].tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(
        self,
        degrees: float | tuple[float, float] = 10.0,
        interpolation: str = "bilinear",
        fill: float = 0.0,
        channels_last: bool = False,
        generator: Any = None,
    ):
        super().__init__(channels_last, generator)
        if isinstance(degrees, (int, float)):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be >= 0, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        lo, hi = (float(d) for d in degrees)
        if lo > hi:
            raise ValueError(f"RandomRotation: degrees range {degrees} needs min <= max")
        if interpolation not in {"bilinear", "nearest"}:
            raise ValueError(
                f"RandomRotation: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.degrees = (lo, hi)
        self.interpolation = interpolation
        self.fill = fill

    def apply(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        angles = np.deg2rad(self.rng.uniform(self.degrees[0], self.degrees[1], size=n))
        cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
        # Rows grow downwards, so a counter-clockwise turn on screen maps output (y, x) back to
        # input (x sin + y cos, x cos - y sin) relative to the centre.
        src_y = xx * sin + yy * cos + cy  # (N, H, W)
        src_x = xx * cos - yy * sin + cx
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        padded = np.pad(x.astype(dtype, copy=False), ((0, 0), (0, 0), (1, 1), (1, 1)),
                        constant_values=self.fill)  # fmt: skip
        batch = np.arange(n)[:, None, None]

        def gather(yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
            # Indices are shifted by the 1-pixel border; anything further out reads the border.
            yi = np.clip(yi + 1, 0, h + 1)
            xi = np.clip(xi + 1, 0, w + 1)
            return padded[batch, :, yi, xi]  # (N, H, W, C)

        if self.interpolation == "nearest":
            out = gather(np.rint(src_y).astype(np.int64), np.rint(src_x).astype(np.int64))
        else:
            y0 = np.floor(src_y).astype(np.int64)
            x0 = np.floor(src_x).astype(np.int64)
            fy = (src_y - y0)[..., None].astype(dtype)
            fx = (src_x - x0)[..., None].astype(dtype)
            out = (
                gather(y0, x0) * (1 - fy) * (1 - fx)
                + gather(y0, x0 + 1) * (1 - fy) * fx
                + gather(y0 + 1, x0) * fy * (1 - fx)
                + gather(y0 + 1, x0 + 1) * fy * fx
            )
        return out.transpose(0, 3, 1, 2).astype(dtype, copy=False)


class GaussianNoise(_Transform):
    """Add independent N(mean, std^2) noise to every pixel; optionally clip to `clip=(lo, hi)`.

    Example:
        >>> out = GaussianNoise(0.1, generator=np.random.default_rng(0))(np.zeros((2, 1, 4, 4)))
        >>> 0.0 < float(out.std()) < 0.2
        True
    """

    def __init__(
        self,
        std: float = 0.1,
        mean: float = 0.0,
        clip: tuple[float, float] | None = None,
        channels_last: bool = False,
        generator: Any = None,
    ):
        super().__init__(channels_last, generator)
        if std < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std, self.mean, self.clip = float(std), float(mean), clip

    def __call__(self, x: Any) -> np.ndarray:
        # Element-wise, so any shape works (also flat feature vectors).
        arr = np.asarray(getattr(x, "data", x) if not isinstance(x, np.ndarray) else x)
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float32
        out = arr + (self.mean + self.std * self.rng.standard_normal(arr.shape)).astype(dtype)
        if self.clip is not None:
            out = np.clip(out, self.clip[0], self.clip[1])
        return out.astype(dtype, copy=False)


class Normalize(_Transform):
    """Per-channel (x - mean[c]) / std[c] (torchvision convention; not random).

    Example:
        >>> Normalize([0.5], [0.5])(np.ones((1, 2, 2))).ravel().tolist()
        [1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], channels_last: bool = False):
        super().__init__(channels_last, None)
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if (self.std <= 0).any():
            raise ValueError(f"Normalize: std must be > 0, got {self.std.tolist()}")

    def apply(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[1]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(
                f"Normalize: mean/std have {len(self.mean)}/{len(self.std)} values for {c} channels"
            )
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        out = (x - self.mean[None, :, None, None]) / self.std[None, :, None, None]
        return out.astype(dtype)
