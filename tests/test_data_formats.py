"""File formats on generated files: IDX, MNIST directory, CSV, NPZ, image folders."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from descentlab.data import (
    DataLoader,
    ImageFolder,
    load_csv,
    load_mnist,
    load_npz,
    read_idx,
    write_idx,
)

# --- IDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    arr = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / ("a-idx3" + (".gz" if gz else ""))
    write_idx(path, arr)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_idx_reads_hand_written_big_endian_file(tmp_path):
    # Written by hand, as on LeCun's page: magic 0x00000803, dims big-endian, uint8 data.
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2, 2, 3)
    data = bytes(range(12))
    (tmp_path / "imgs").write_bytes(header + data)
    np.testing.assert_array_equal(read_idx(tmp_path / "imgs"), np.arange(12).reshape(2, 2, 3))
    # int32 labels are big-endian on disk
    (tmp_path / "i32").write_bytes(
        bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", 1, -2)
    )
    np.testing.assert_array_equal(read_idx(tmp_path / "i32"), [1, -2])
    # gzip detected by magic bytes even without .gz in the name
    (tmp_path / "zipped").write_bytes(gzip.compress(header + data))
    assert read_idx(tmp_path / "zipped").shape == (2, 2, 3)


def test_idx_errors(tmp_path):
    good = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10) + bytes(10)
    (tmp_path / "trunc").write_bytes(good[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "trunc")
    (tmp_path / "magic").write_bytes(b"\x01\x02" + good[2:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic")
    (tmp_path / "code").write_bytes(bytes([0, 0, 0x07, 1]) + good[4:])
    with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
        read_idx(tmp_path / "code")
    (tmp_path / "hdr").write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(tmp_path / "hdr")
    (tmp_path / "badgz.gz").write_bytes(gzip.compress(good)[:-8])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "badgz.gz")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing")
    with pytest.raises(TypeError, match="no IDX code"):
        write_idx(tmp_path / "x", np.zeros(2, dtype=np.int64))


def _fake_mnist(directory, n_train=6, n_test=4, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    for name, a in arrays.items():
        write_idx(directory / (name + suffix), a)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_directory(tmp_path, gz):
    arrays = _fake_mnist(tmp_path, gz=gz)
    d = load_mnist(tmp_path)
    assert d.x.shape == (6, 1, 28, 28) and d.x.dtype == np.float32
    np.testing.assert_allclose(d.x[:, 0], arrays["train-images-idx3-ubyte"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert d.y.dtype == np.int64
    assert load_mnist(tmp_path, flatten=True).x.shape == (6, 784)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    _fake_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))  # 6 images, 5 labels
    with pytest.raises(ValueError, match="do not match"):
        load_mnist(tmp_path)


# --- CSV ------------------------------------------------------------------------------------


def test_load_csv_with_header_and_string_target(tmp_path):
    p = tmp_path / "flowers.csv"
    p.write_text("a,b,species\n1.5,2,setosa\n3,4.25,virginica\n5,6,setosa\n")
    d = load_csv(p, target="species")
    np.testing.assert_array_equal(d.x, np.array([[1.5, 2], [3, 4.25], [5, 6]], np.float32))
    np.testing.assert_array_equal(d.y, [0, 1, 0])
    assert d.target_names == ["setosa", "virginica"]
    assert d.feature_names == ["a", "b"]
    assert d.task == "classification"


def test_load_csv_numeric_targets_and_no_header(tmp_path):
    p = tmp_path / "reg.csv"
    p.write_text("0.5,1,2.5\n1.5,2,3.75\n")
    d = load_csv(p, target=0)  # header detected as absent
    assert d.task == "regression" and d.y.dtype == np.float32
    np.testing.assert_allclose(d.y, [0.5, 1.5])
    np.testing.assert_array_equal(d.x, [[1, 2.5], [2, 3.75]])
    q = tmp_path / "cls.csv"
    q.write_text("x;label\n1;0\n2;3\n")
    d = load_csv(q, delimiter=";")
    np.testing.assert_array_equal(d.y, [0, 3])
    assert d.y.dtype == np.int64
    d = load_csv(q, target=None, delimiter=";")
    assert d.x.shape == (2, 2) and d.task == "unsupervised"


def test_load_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b,y\n1,2,0\n1,x,1\n")
    with pytest.raises(ValueError, match=r"line 3, column 'b': 'x' is not a number"):
        load_csv(p)
    p.write_text("a,b,y\n1,2,0\n1,,1\n")
    with pytest.raises(ValueError, match="line 3, column 'b' is missing"):
        load_csv(p)
    d = load_csv(p, allow_missing=True)
    assert np.isnan(d.x[1, 1])
    p.write_text("a,b,y\n1,2,0\n1,2\n")
    with pytest.raises(ValueError, match="line 3 has 2 fields, expected 3"):
        load_csv(p)
    p.write_text("alpha,beta,label\n1,2,0\n")
    with pytest.raises(ValueError, match="Did you mean"):
        load_csv(p, target="labels")
    with pytest.raises(FileNotFoundError):
        load_csv(tmp_path / "nope.csv")


# --- NPZ ------------------------------------------------------------------------------------


def test_load_npz_keras_layout_and_explicit_keys(tmp_path):
    rng = np.random.default_rng(0)
    xtr, ytr = rng.integers(0, 255, (5, 4, 4), dtype=np.uint8), np.arange(5, dtype=np.uint8)
    xte, yte = rng.integers(0, 255, (2, 4, 4), dtype=np.uint8), np.arange(2, dtype=np.uint8)
    np.savez_compressed(tmp_path / "mnist.npz", x_train=xtr, y_train=ytr, x_test=xte, y_test=yte)
    d = load_npz(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(d.x, xtr.astype(np.float32))
    np.testing.assert_array_equal(d.y_test, yte)
    assert d.y.dtype == np.int64 and d.x_test.shape == (2, 4, 4)
    np.savez(tmp_path / "custom.npz", feats=np.ones((3, 2)), target=np.array([0.5, 1.0, 2.0]))
    d = load_npz(tmp_path / "custom.npz", x_key="feats", y_key="target")
    assert d.task == "regression" and d.y.dtype == np.float32


def test_load_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", foo=np.zeros(3))
    with pytest.raises(ValueError, match="cannot tell features from labels"):
        load_npz(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="key 'bar' not in"):
        load_npz(tmp_path / "a.npz", x_key="foo", y_key="bar")
    np.savez(tmp_path / "b.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(ValueError, match="3 samples but 'y' has 4"):
        load_npz(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.array([{"a": 1}], dtype=object), y=np.zeros(1))
    with pytest.raises(ValueError, match="pickled objects"):
        load_npz(tmp_path / "c.npz")
    (tmp_path / "d.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_npz(tmp_path / "d.npz")


# --- image folders --------------------------------------------------------------------------


def _image_tree(root, sizes=((6, 8), (6, 8), (10, 5))):
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = {}
    for cls, (h, w) in zip(["nevus", "melanoma", "bcc"], sizes, strict=True):
        (root / cls).mkdir(parents=True)
        for k in range(2):
            arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            path = root / cls / f"img{k}.png"
            Image.fromarray(arr).save(path)
            pixels[path] = arr
    (root / "bcc" / "notes.txt").write_text("ignored")
    return pixels


def test_image_folder_rgb_grayscale_resize(tmp_path):
    from PIL import Image

    pixels = _image_tree(tmp_path)
    ds = ImageFolder(tmp_path, mode="RGB")
    assert ds.classes == ["bcc", "melanoma", "nevus"]
    assert len(ds) == 6 and ds.targets.tolist() == [0, 0, 1, 1, 2, 2]
    x, y = ds[2]
    path = ds.samples[2][0]
    assert x.shape == (3, 6, 8) and x.dtype == np.float32 and y == 1
    np.testing.assert_allclose(x, pixels[path].transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = ImageFolder(tmp_path, mode="L", size=(4, 4))
    g, _ = gray[0]
    assert g.shape == (1, 4, 4)
    ref = (
        np.asarray(
            Image.open(gray.samples[0][0]).convert("L").resize((4, 4), Image.Resampling.BILINEAR),
            np.float32,
        )
        / 255.0
    )
    np.testing.assert_allclose(g[0], ref, rtol=1e-6)
    last = ImageFolder(tmp_path, size=5, channels_last=True)
    assert last[5][0].shape == (5, 5, 3)
    xs, ys = gray.to_arrays()
    assert xs.shape == (6, 1, 4, 4) and ys.tolist() == ds.targets.tolist()
    # usable in a DataLoader (per-sample collate path)
    batches = list(DataLoader(gray, batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 1, 4, 4), (2, 1, 4, 4)]
    assert batches[1][1].dtype == np.int64


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="no class sub-folders"):
        ImageFolder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="no images"):
        ImageFolder(tmp_path)
    _image_tree(tmp_path / "t")
    with pytest.raises(ValueError, match="mode must be"):
        ImageFolder(tmp_path / "t", mode="CMYK")
    with pytest.raises(ValueError, match="pass size"):
        ImageFolder(tmp_path / "t").to_arrays()  # mixed image sizes
    (tmp_path / "t" / "bcc" / "broken.png").write_bytes(b"not an image")
    ds = ImageFolder(tmp_path / "t")
    idx = [str(p) for p, _ in ds.samples].index(str(tmp_path / "t" / "bcc" / "broken.png"))
    with pytest.raises(ValueError, match="cannot read image"):
        ds[idx]


def test_image_folder_from_metadata_csv_ham10000_layout(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    rows = [("ISIC_0001", "nv"), ("ISIC_0002", "mel"), ("ISIC_0003", "nv")]
    for name, _ in rows:
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(
            images / f"{name}.jpg"
        )
    meta = tmp_path / "HAM10000_metadata.csv"
    meta.write_text(
        "lesion_id,image_id,dx\n" + "".join(f"L{k},{n},{d}\n" for k, (n, d) in enumerate(rows))
    )
    ds = ImageFolder.from_csv(meta, images, size=4, mode="L")
    assert ds.classes == ["mel", "nv"] and ds.targets.tolist() == [1, 0, 1]
    x, y = ds[1]
    assert x.shape == (1, 4, 4) and y == 0
    assert ds.to_arrays()[0].shape == (3, 1, 4, 4)
    with pytest.raises(ValueError, match="no column 'diagnosis'"):
        ImageFolder.from_csv(meta, images, label_column="diagnosis")
    (images / "ISIC_0003.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="1 of 3 listed images are missing"):
        ImageFolder.from_csv(meta, images)
