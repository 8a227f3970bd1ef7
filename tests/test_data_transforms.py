"""Augmentation transforms on NCHW / NHWC batches and single images."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab.data import DataLoader, TensorDataset
from descentlab.data.transforms import (
    Compose,
    GaussianNoise,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShift,
    RandomVerticalFlip,
)


def _batch(n=16, c=2, h=7, w=9):
    # Distinct values everywhere so any output window identifies its source position.
    return np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w) + 1


def test_horizontal_flip_per_sample_and_layouts():
    x = _batch()
    out = RandomHorizontalFlip(p=0.5, generator=np.random.default_rng(0))(x)
    flipped = [np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x, strict=True)]
    kept = [np.array_equal(o, xi) for o, xi in zip(out, x, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 0 < sum(flipped) < len(x)  # independent draws per image
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)
    nhwc = x.transpose(0, 2, 3, 1)
    out = RandomHorizontalFlip(p=1.0, channels_last=True)(nhwc)
    np.testing.assert_array_equal(out, nhwc[:, :, ::-1, :])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x[0]), x[0][..., ::-1])  # CHW
    np.testing.assert_array_equal(RandomVerticalFlip(p=1.0)(x), x[:, :, ::-1, :])
    assert out.flags["C_CONTIGUOUS"]


def test_flip_matches_torch(torch):
    x = _batch(n=1)
    np.testing.assert_array_equal(
        RandomHorizontalFlip(p=1.0)(x), torch.flip(torch.from_numpy(x), dims=[-1]).numpy()
    )


def _find_offset(out, padded, th, tw):
    h2, w2 = padded.shape[-2:]
    for i in range(h2 - th + 1):
        for j in range(w2 - tw + 1):
            if np.array_equal(out, padded[:, i : i + th, j : j + tw]):
                return i, j
    return None


def test_random_crop_windows_are_exact_and_random():
    x = _batch()
    p = 2
    out = RandomCrop(size=(5, 6), padding=p, generator=np.random.default_rng(1))(x)
    assert out.shape == (16, 2, 5, 6)
    offsets = []
    for o, xi in zip(out, x, strict=True):
        padded = np.pad(xi, ((0, 0), (p, p), (p, p)))
        off = _find_offset(o, padded, 5, 6)
        assert off is not None
        offsets.append(off)
    assert len(set(offsets)) > 3


def test_random_shift_keeps_size_and_bounds():
    x = _batch(n=64)
    out = RandomShift(max_shift=2, fill=-1.0, generator=np.random.default_rng(2))(x)
    assert out.shape == x.shape
    for o, xi in zip(out, x, strict=True):
        padded = np.pad(xi, ((0, 0), (2, 2), (2, 2)), constant_values=-1.0)
        i, j = _find_offset(o, padded, 7, 9)
        assert 0 <= i <= 4 and 0 <= j <= 4
    # single HW image and NHWC
    assert RandomShift(1)(np.ones((5, 5))).shape == (5, 5)
    assert RandomShift(1, channels_last=True)(np.ones((3, 5, 6, 2))).shape == (3, 5, 6, 2)


def test_crop_too_large_errors():
    with pytest.raises(ValueError, match="does not fit"):
        RandomCrop(size=10)(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="integer >= 0 pixels"):
        RandomCrop(padding=-1)
    with pytest.raises(ValueError, match="integer >= 0 pixels"):
        RandomShift(0.1)  # a fraction would silently become 0
    with pytest.raises(ValueError, match="size must be"):
        RandomCrop(size=(0, 3))


def test_rotation_exact_quarter_turn_and_identity():
    x = np.random.default_rng(0).random((3, 2, 6, 6)).astype(np.float32)
    for interp in ("nearest", "bilinear"):
        out = RandomRotation((90, 90), interpolation=interp)(x)
        # counter-clockwise on screen, like np.rot90 on the (H, W) axes
        np.testing.assert_allclose(out, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5)
        np.testing.assert_allclose(RandomRotation(0, interpolation=interp)(x), x, atol=1e-6)
    # a pixel right of the centre moves above it
    img = np.zeros((5, 5), np.float32)
    img[2, 4] = 1
    assert RandomRotation((90, 90), interpolation="nearest")(img)[0, 2] == 1


def test_rotation_bilinear_matches_scipy():
    from scipy import ndimage  # installed with mnist1d (test extra)

    img = np.random.default_rng(3).random((11, 13))
    ours = RandomRotation((17.0, 17.0), interpolation="bilinear")(img)
    ref = ndimage.rotate(img, 17.0, reshape=False, order=1, mode="grid-constant", cval=0.0)
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_rotation_random_angles_per_sample_and_seeded():
    x = np.random.default_rng(0).random((8, 1, 9, 9)).astype(np.float32)
    a = RandomRotation(15, generator=np.random.default_rng(5))(x)
    b = RandomRotation(15, generator=np.random.default_rng(5))(x)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    diffs = {round(float(np.abs(a[i] - a[0]).sum()), 3) for i in range(8)}
    assert len(diffs) > 1
    with pytest.raises(ValueError, match="interpolation"):
        RandomRotation(10, interpolation="cubic")


def test_gaussian_noise_statistics_and_clip():
    x = np.zeros((200, 1, 10, 10), np.float32)
    out = GaussianNoise(0.5, generator=np.random.default_rng(0))(x)
    assert out.dtype == np.float32
    assert abs(float(out.std()) - 0.5) < 0.01 and abs(float(out.mean())) < 0.01
    clipped = GaussianNoise(1.0, clip=(0.0, 1.0))(x)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    assert GaussianNoise(0.1)(np.zeros((4, 3))).shape == (4, 3)  # flat features too


def test_global_generator_reproducibility_and_compose_in_loader():
    x = _batch(n=10)
    aug = Compose([RandomHorizontalFlip(), RandomShift(1), RandomRotation(10), GaussianNoise(0.01)])
    dl.manual_seed(11)
    a = aug(x)
    dl.manual_seed(11)
    np.testing.assert_array_equal(a, aug(x))
    loader = DataLoader(TensorDataset(x, np.arange(10)), batch_size=4, transform=aug)
    shapes = [xb.shape for xb, _ in loader]
    assert shapes == [(4, 2, 7, 9), (4, 2, 7, 9), (2, 2, 7, 9)]
    with pytest.raises(TypeError, match="callable"):
        Compose([1])


def test_normalize_and_shape_errors():
    x = np.ones((2, 3, 2, 2), np.float32)
    out = Normalize([0.5, 1.0, 0.0], [0.5, 1.0, 2.0])(x)
    np.testing.assert_allclose(out[:, :, 0, 0], [[1.0, 0.0, 0.5]] * 2)
    with pytest.raises(ValueError, match="3 channels"):
        Normalize([0.1, 0.2], [1, 1])(x)
    with pytest.raises(ValueError, match="expected an image"):
        RandomHorizontalFlip()(np.ones(5))
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(p=2)
