"""descentlab.io: safetensors model files, checkpoints, atomic writes, clear errors on bad files."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import descentlab as dl
from descentlab import io as dlio
from descentlab import nn


def make_model(seed: int = 0) -> nn.Module:
    dl.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k])


def test_top_level_names_are_lazy():
    assert dl.save is dlio.save and dl.load is dlio.load
    assert dl.save_checkpoint is dlio.save_checkpoint


def test_save_load_roundtrip_exact(tmp_path):
    src, dst = make_model(0), make_model(1)
    path = dlio.save(src, tmp_path / "m.safetensors", metadata={"note": "digits"})
    assert not np.array_equal(src[0].weight.data, dst[0].weight.data)
    assert dl.load(path, dst) is dst
    assert_same(weights(src), weights(dst))
    meta = dlio.read_metadata(path)
    assert meta["format"] == "descentlab.model" and meta["user"] == {"note": "digits"}
    assert meta["class"] == "Sequential"
    assert set(dlio.load(path)) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_file_is_plain_safetensors_without_pickle(tmp_path):
    path = dlio.save(make_model(), tmp_path / "m.safetensors")
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    assert header["0.weight"]["dtype"] == "F32" and header["0.weight"]["shape"] == [5, 4]
    assert b"\x80\x04" not in data[:2]  # not a pickle stream


def test_model_file_loads_into_same_torch_architecture(tmp_path, torch):
    from safetensors.torch import load_file, save_file

    ours = make_model(3)
    path = dlio.save(ours, tmp_path / "m.safetensors")
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    ref.load_state_dict(load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    with dl.no_grad():
        mine = ours(dl.tensor(x)).numpy()
    theirs = ref(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    # and the other way: a file written by PyTorch loads here
    torch.manual_seed(7)
    ref2 = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    save_file(ref2.state_dict(), str(tmp_path / "t.safetensors"))
    dl.load(tmp_path / "t.safetensors", ours)
    np.testing.assert_array_equal(ours[2].weight.data, ref2[2].weight.detach().numpy())


@pytest.mark.parametrize("cut", [0, 5, 40, -1])
def test_truncated_file_raises_and_leaves_model_unchanged(tmp_path, cut):
    path = dlio.save(make_model(0), tmp_path / "m.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut >= 0 else data[:-3])
    model = make_model(1)
    before = weights(model)
    with pytest.raises(dlio.LoadError, match="truncated|not a readable"):
        dl.load(path, model)
    assert_same(before, weights(model))


@pytest.mark.parametrize(
    "content",
    [
        pickle.dumps({"0.weight": np.zeros((5, 4))}),
        b"hello, this is a text file\n" * 4,
        b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"[1, 2, 3]       ",
    ],
    ids=["pickle", "text", "json-array-header"],
)
def test_foreign_file_raises_clear_error(tmp_path, content):
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(content)
    model = make_model(1)
    before = weights(model)
    with pytest.raises(dlio.LoadError, match="not a readable safetensors file"):
        dl.load(path, model)
    with pytest.raises(dlio.LoadError):
        dlio.load_checkpoint(path, model)
    assert_same(before, weights(model))


def test_wrong_architecture_raises_and_leaves_model_unchanged(tmp_path):
    path = dlio.save(make_model(0), tmp_path / "m.safetensors")
    other = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    before = weights(other)
    with pytest.raises(dlio.LoadError, match="size mismatch for 0.weight"):
        dl.load(path, other)
    assert_same(before, weights(other))


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        dl.load(tmp_path / "nope.safetensors", make_model())


def test_atomic_write_keeps_old_file_when_write_fails(tmp_path, monkeypatch):
    path = dlio.save(make_model(0), tmp_path / "m.safetensors")
    old = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        dlio.save(make_model(1), path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temp file left


def test_save_refuses_non_json_metadata_before_writing(tmp_path):
    with pytest.raises(TypeError):
        dlio.save(make_model(), tmp_path / "m.safetensors", metadata={"f": object()})
    assert not (tmp_path / "m.safetensors").exists()


def test_encode_decode_state_round_trips_types_exactly():
    state = {
        "step": 3,
        "lr": 0.1,
        "betas": (0.9, 0.999),
        "flag": True,
        "none": None,
        "nan": float("nan"),
        "count32": np.float32(0.1),
        "int_keys": {0: {"exp_avg": np.arange(6, dtype=np.float32).reshape(2, 3)}, 1: {}},
        "list": [np.array([1, 2], dtype=np.int64), "x"],
        "__dunder": {"__array__": "not a ref"},
    }
    arrays: dict[str, np.ndarray] = {}
    enc = dlio.encode_state(state, arrays, "s")
    text = json.dumps(enc)  # must be JSON-able
    back = dlio.decode_state(json.loads(text), arrays)
    assert back["betas"] == (0.9, 0.999) and isinstance(back["betas"], tuple)
    assert type(back["count32"]) is np.float32 and back["count32"] == np.float32(0.1)
    assert set(back["int_keys"]) == {0, 1}
    np.testing.assert_array_equal(back["int_keys"][0]["exp_avg"], state["int_keys"][0]["exp_avg"])
    assert back["int_keys"][0]["exp_avg"].dtype == np.float32
    assert back["list"][0].dtype == np.int64 and back["list"][1] == "x"
    assert np.isnan(back["nan"]) and back["none"] is None and back["flag"] is True
    assert back["__dunder"] == {"__array__": "not a ref"}
    with pytest.raises(TypeError, match="no pickle"):
        dlio.encode_state({"f": lambda: 1}, {}, "s")


class _Counter:
    """A minimal object with PyTorch-style state_dict methods (stands in for a scheduler)."""

    def __init__(self, fail: bool = False):
        self.count, self.fail = 0, fail

    def state_dict(self):
        return {"count": self.count, "table": np.arange(3.0) * self.count}

    def load_state_dict(self, state):
        if self.fail:
            raise ValueError("incompatible scheduler state")
        self.count = state["count"]


def test_checkpoint_round_trip_restores_everything(tmp_path):
    model = make_model(0)
    sched = _Counter()
    sched.count = 4
    dl.manual_seed(123)
    dl.randn(3)
    rng_before = dl.get_rng_state()
    expected_next = dl.randn(5).data.copy()
    dl.set_rng_state(rng_before)
    path = dlio.save_checkpoint(
        tmp_path / "c.safetensors", model, None, sched, epoch=7,
        history={"loss": [1.0, 0.5]}, extra={"cb": {"best": 0.25}},
    )  # fmt: skip
    dl.manual_seed(999)
    other, sched2 = make_model(1), _Counter()
    info = dlio.load_checkpoint(path, other, None, sched2)
    assert_same(weights(model), weights(other))
    assert sched2.count == 4
    assert info["epoch"] == 7 and info["history"] == {"loss": [1.0, 0.5]}
    assert info["extra"] == {"cb": {"best": 0.25}}
    np.testing.assert_array_equal(dl.randn(5).data, expected_next)
    # the model part of a checkpoint is readable by `load` as well
    third = make_model(2)
    dl.load(path, third)
    assert_same(weights(model), weights(third))


def test_checkpoint_keeps_array_shapes_and_dtypes(tmp_path):
    extra = {
        "scalar": np.array(3.0),
        "empty": np.zeros((0, 3), np.float32),
        "strided": np.arange(6)[::2],
        "mask": np.array([True, False]),
        "big_endian": np.arange(4.0).astype(">f8"),
        "half": np.float16(1.5),
    }
    path = dlio.save_checkpoint(tmp_path / "c.safetensors", make_model(), extra=extra)
    back = dlio.read_checkpoint(path)["extra"]
    for key, value in extra.items():
        assert np.shape(back[key]) == np.shape(value), key
        assert np.asarray(back[key]).dtype == np.asarray(value).dtype.newbyteorder("="), key
        np.testing.assert_array_equal(back[key], value)


def test_checkpoint_failure_in_a_later_part_leaves_model_unchanged(tmp_path):
    path = dlio.save_checkpoint(
        tmp_path / "c.safetensors", make_model(0), None, _Counter(), epoch=1
    )
    model = make_model(1)
    before = weights(model)
    with pytest.raises(ValueError, match="incompatible scheduler state"):
        dlio.load_checkpoint(path, model, None, _Counter(fail=True))
    assert_same(before, weights(model))


def test_load_checkpoint_on_model_file_says_what_it_is(tmp_path):
    path = dlio.save(make_model(0), tmp_path / "m.safetensors")
    with pytest.raises(dlio.LoadError, match="is a model file"):
        dlio.load_checkpoint(path, make_model(1))
