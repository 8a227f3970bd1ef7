"""PyTorch's device and conversion habits: `dl.device`, `dl.cuda`, `.to(...)`, `.cpu()`, `device=`
and `F.one_hot`, each against torch's own behaviour, and the tutorial training loop end to end."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import descentlab as dl
import descentlab.nn.functional as F
from descentlab import nn
from descentlab.data import DataLoader, TensorDataset

torch = pytest.importorskip("torch")

DEVICE_STRINGS = ["cpu", "cuda", "cuda:0", "cuda:3", "mps", "meta", "xla"]


# ------------------------------------------------------------------ dl.device
@pytest.mark.parametrize("text", DEVICE_STRINGS)
def test_device_parses_prints_and_compares_as_torch(text: str) -> None:
    ours, theirs = dl.device(text), torch.device(text)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert ours == dl.device(text) and dl.device(ours) == ours
    assert ours == text and text == ours  # deliberately unlike torch 2.13, where this is False
    assert hash(ours) == hash(dl.device(text)) == hash(text)
    assert pickle.loads(pickle.dumps(ours)) == ours


def test_device_with_index_argument_and_inequality() -> None:
    assert dl.device("cuda", 1) == dl.device("cuda:1")
    assert repr(dl.device("cuda", 1)) == repr(torch.device("cuda", 1))
    assert dl.device("cpu") != dl.device("cpu", 0)
    assert torch.device("cpu") != torch.device("cpu", 0)
    assert dl.device("cpu") != "cuda" and dl.device("cpu") != 1
    assert len({dl.device("cpu"), dl.device("cpu"), dl.device("cuda:0")}) == 2


def test_device_is_immutable() -> None:
    with pytest.raises(AttributeError, match="not writable"):
        dl.device("cpu").type = "cuda"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("gpu", "Expected one of cpu, cuda, ipu"),
        ("cpu:x", "Invalid device string: 'cpu:x'"),
        ("cuda:-1", "Invalid device string: 'cuda:-1'"),
        ("cuda:0:1", "Invalid device string: 'cuda:0:1'"),
        ("", "Device string must not be empty"),
    ],
)
def test_bad_device_strings_fail_with_torchs_words(text: str, words: str) -> None:
    with pytest.raises(RuntimeError, match=words):
        torch.device(text)
    with pytest.raises(ValueError, match=words):
        dl.device(text)


def test_bad_device_index() -> None:
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        torch.device("cuda", -1)
    with pytest.raises(ValueError, match="Device index must not be negative"):
        dl.device("cuda", -1)
    with pytest.raises(TypeError, match="argument 'index' must be int, not str"):
        dl.device("cpu", "0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="both name an index"):
        dl.device("cuda:1", 0)


# ------------------------------------------------------------------ dl.cuda, dl.backends
def test_accelerator_queries_answer_as_torch_without_one() -> None:
    assert dl.cuda.is_available() is False and dl.cuda.device_count() == 0
    assert dl.backends.mps.is_available() is False
    assert dl.backends.cudnn.is_available() is False
    for name in ("deterministic", "benchmark", "enabled"):
        assert getattr(dl.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    dl.cuda.manual_seed(0)
    dl.cuda.manual_seed_all(0)
    with pytest.raises(ValueError):
        dl.cuda.manual_seed("a")  # type: ignore[arg-type]


# ------------------------------------------------------------------ Tensor.to, cpu, device
def _pair(dtype_name: str = "float32", requires_grad: bool = False):  # type: ignore[no-untyped-def]
    values = np.array([1.5, -2.0, 3.25], dtype=np.float32)
    ours = dl.tensor(values.astype(dtype_name), requires_grad=requires_grad)
    theirs = torch.tensor(values, dtype=getattr(torch, dtype_name), requires_grad=requires_grad)
    return ours, theirs


TO_NO_OPS = [
    (("cpu",), {}),
    ((), {"device": "cpu"}),
    (("float32",), {}),
    ((), {"dtype": "float32"}),
    (("cpu", "float32"), {}),
    (("cpu",), {"dtype": "float32", "non_blocking": True}),
    ((), {}),
    (("same-tensor",), {}),
]


def _resolve(args: tuple, kwargs: dict, lib: str, self_tensor):  # type: ignore[no-untyped-def]
    def conv(v):  # type: ignore[no-untyped-def]
        if v == "same-tensor":
            return self_tensor
        if v == "cpu":
            return dl.device("cpu") if lib == "dl" else torch.device("cpu")
        if isinstance(v, str):
            return getattr(dl if lib == "dl" else torch, v)
        return v

    return tuple(conv(a) for a in args), {k: conv(v) for k, v in kwargs.items()}


@pytest.mark.parametrize(("args", "kwargs"), TO_NO_OPS)
def test_to_returns_the_same_tensor_when_nothing_changes(args: tuple, kwargs: dict) -> None:
    ours, theirs = _pair()
    a, k = _resolve(args, kwargs, "torch", theirs)
    assert theirs.to(*a, **k) is theirs
    a, k = _resolve(args, kwargs, "dl", ours)
    assert ours.to(*a, **k) is ours
    assert ours.to("cpu") is ours and ours.to(device="cpu") is ours


@pytest.mark.parametrize("copy_kw", [{"copy": True}, {"non_blocking": False, "copy": True}])
def test_to_copy_true_returns_a_new_tensor_in_the_graph(copy_kw: dict) -> None:
    ours, theirs = _pair(requires_grad=True)
    assert theirs.to("cpu", **copy_kw) is not theirs
    out = ours.to("cpu", **copy_kw)
    assert out is not ours and out.data is not ours.data and out.requires_grad
    (out * 2).sum().backward()
    np.testing.assert_array_equal(ours.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    ("source", "target"),
    [("float32", "float64"), ("float64", "float32"), ("float32", "float16"),
     ("float32", "int64"), ("int64", "float32"), ("float32", "bool")],
)  # fmt: skip
def test_to_dtype_matches_torch_values_dtype_and_grad(source: str, target: str) -> None:
    grad = source.startswith("float")
    ours, theirs = _pair(source, requires_grad=grad)
    for kwargs in ({}, {"device": "cpu"}):
        mine = ours.to(getattr(dl, target if target != "bool" else "bool_"), **kwargs)
        ref = theirs.to(getattr(torch, target))
        assert mine.dtype.name == str(ref.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(mine.data, ref.detach().numpy())
        assert mine.requires_grad == ref.requires_grad


def test_to_dtype_stays_differentiable_like_torch() -> None:
    ours, theirs = _pair(requires_grad=True)
    (ours.to("cpu", dl.float64) ** 2).sum().backward()
    (theirs.to("cpu", torch.float64) ** 2).sum().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy())
    assert ours.grad.dtype == np.float32


def test_to_other_tensor_takes_its_dtype() -> None:
    ours, theirs = _pair()
    other_ours, other_theirs = dl.zeros(1, dtype=dl.float64), torch.zeros(1, dtype=torch.float64)
    assert ours.to(other_ours).dtype == np.float64
    assert theirs.to(other_theirs).dtype == torch.float64
    assert ours.to(other_ours, False, True) is not ours


def test_to_accepts_numpy_dtype_names_from_before() -> None:
    ours, _ = _pair()
    assert ours.to("float64").dtype == np.float64
    assert ours.to(np.dtype("float16")).dtype == np.float16
    assert ours.to(float).dtype == np.float64  # Python float is float64, as torch's x.to(float)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "words"),
    [
        ((dl.float32, dl.float64), {}, TypeError, "non_blocking must be a bool"),
        (("cpu",), {"device": "cpu"}, TypeError, "multiple values for argument 'device'"),
        ((1.5,), {}, TypeError, "expects a device"),
        ((), {"layout": None}, TypeError, "unexpected keyword argument 'layout'"),
        (("gpu",), {}, ValueError, "Expected one of cpu, cuda"),
        (("cuda",), {}, RuntimeError, "descentlab computes on the CPU only"),
        (("mps",), {}, RuntimeError, "use device 'cpu'"),
        ((dl.device("cuda", 0),), {}, RuntimeError, "device 'cuda:0'"),
        ((), {"device": "cuda"}, RuntimeError, "CPU only"),
    ],
)
def test_to_errors(args: tuple, kwargs: dict, error: type, words: str) -> None:
    ours, _ = _pair()
    with pytest.raises(error, match=words):
        ours.to(*args, **kwargs)


def test_to_tensor_refuses_device_or_dtype_beside_it() -> None:
    ours, theirs = _pair()
    with pytest.raises(TypeError):
        theirs.to(theirs, dtype=torch.float64)
    with pytest.raises(TypeError, match="takes its device and dtype from the tensor"):
        ours.to(ours, dtype=dl.float64)


def test_cpu_device_and_is_cuda_as_torch_on_cpu() -> None:
    ours, theirs = _pair()
    assert theirs.cpu() is theirs and ours.cpu() is ours
    assert ours.device == dl.device("cpu") and str(ours.device) == str(theirs.device)
    assert repr(ours.device) == repr(theirs.device)
    assert ours.is_cuda is theirs.is_cuda is False
    assert nn.Linear(2, 1).weight.device == "cpu"
    with pytest.raises(RuntimeError, match="CPU only.*use device 'cpu'"):
        ours.cuda()


def test_astype_to_integer_no_longer_requires_grad() -> None:
    x = dl.tensor([1.7, -2.2], requires_grad=True)
    assert not x.long().requires_grad and x.long().tolist() == [1, -2]
    assert x.astype(np.float64).requires_grad


# ------------------------------------------------------------------ Module.to
def test_module_to_returns_self_and_casts_floating_parameters_and_buffers() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert model.to("cpu") is model and model.cpu() is model
    assert model.to(device=dl.device("cpu"), non_blocking=True) is model
    assert model[0].weight.dtype == np.float32
    weight = model[0].weight
    assert model.to("cpu", dl.float64) is model
    assert model[0].weight is weight and weight.dtype == np.float64
    assert model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    model.to(dl.zeros(1))  # a tensor's dtype, as torch
    assert weight.dtype == np.float32
    model.to(dtype=dl.float64)
    assert model[1].running_var.dtype == np.float64


def test_module_to_matches_torch_on_dtype_and_errors() -> None:
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    assert theirs.to("cpu", torch.float16) is theirs and ours.to("cpu", dl.float16) is ours
    assert ours.weight.dtype.name == str(theirs.weight.dtype).removeprefix("torch.")
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        theirs.to(torch.int64)
    with pytest.raises(TypeError, match="only accepts floating point or complex dtypes"):
        ours.to(dl.int64)
    with pytest.raises(RuntimeError, match="CPU only"):
        ours.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        ours.cuda()
    with pytest.raises(ValueError, match="Expected one of cpu"):
        ours.to("gpu")


# ------------------------------------------------------------------ factories' device=
FACTORIES = {
    "tensor": lambda lib, **kw: lib.tensor([1.0, 2.0], **kw),
    "as_tensor": lambda lib, **kw: lib.as_tensor([1.0, 2.0], **kw),
    "zeros": lambda lib, **kw: lib.zeros(2, 3, **kw),
    "ones": lambda lib, **kw: lib.ones((2, 3), **kw),
    "empty": lambda lib, **kw: lib.empty(2, **kw),
    "randn": lambda lib, **kw: lib.randn(2, 3, **kw),
    "rand": lambda lib, **kw: lib.rand(2, **kw),
    "arange": lambda lib, **kw: lib.arange(5, **kw),
    "full": lambda lib, **kw: lib.full((2, 2), 7, **kw),
    "zeros_like": lambda lib, **kw: lib.zeros_like(lib.ones(2), **kw),
    "ones_like": lambda lib, **kw: lib.ones_like(lib.ones(2), **kw),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_factories_take_device_as_torch(name: str) -> None:
    make = FACTORIES[name]
    for dev in ("cpu", dl.device("cpu"), None):
        ours = make(dl, device=dev)
        theirs = make(torch, device=None if dev is None else str(dev))
        assert ours.device == "cpu" and str(theirs.device) == "cpu"
        assert ours.shape == tuple(theirs.shape)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    for dev in ("cuda", "mps:0"):
        with pytest.raises(RuntimeError, match="CPU only"):
            make(dl, device=dev)
    with pytest.raises(ValueError, match="Expected one of cpu"):
        make(dl, device="gpu")


@pytest.mark.parametrize("fill", [7, 0.5, True])
def test_full_infers_dtype_as_torch(fill: object) -> None:
    ours, theirs = dl.full((2, 3), fill), torch.full((2, 3), fill)
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert dl.full(3, 1, dtype=dl.float64).dtype == np.float64


# ------------------------------------------------------------------ F.one_hot
@pytest.mark.parametrize(
    ("labels", "num_classes"),
    [([0, 2, 1], -1), ([0, 2, 1], 5), ([[0], [3]], 4), (2, 3), ([[1, 0], [0, 1]], -1)],
)
def test_one_hot_matches_torch(labels: object, num_classes: int) -> None:
    ours = F.one_hot(dl.tensor(labels), num_classes)
    theirs = torch.nn.functional.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert F.one_hot(dl.tensor(labels), num_classes=num_classes).shape == tuple(theirs.shape)


def test_one_hot_of_empty_and_numpy_labels() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert (
        F.one_hot(empty, 3).shape
        == (0, 3)
        == tuple(torch.nn.functional.one_hot(torch.from_numpy(empty), 3).shape)
    )
    np.testing.assert_array_equal(F.one_hot(np.array([1], np.int32), 2).data, [[0, 1]])


@pytest.mark.parametrize(
    ("labels", "num_classes", "error", "words"),
    [
        ([0, -1], -1, ValueError, "Class values must be non-negative"),
        ([0, -1], 3, ValueError, "Class values must be non-negative"),
        ([0, 3], 3, ValueError, "Class values must be smaller than num_classes"),
        ([0, 1], 0, ValueError, "Class values must be smaller than num_classes"),
        ([0.0, 1.0], -1, TypeError, "one_hot is only applicable to index tensor"),
        ([True, False], -1, TypeError, "one_hot is only applicable to index tensor"),
        ([], -1, ValueError, "Can not infer total number of classes from empty tensor"),
        ([], 0, ValueError, "Can not infer total number of classes from empty tensor"),
    ],
)
def test_one_hot_errors_as_torch(labels: list, num_classes: int, error: type, words: str) -> None:
    dtype = {float: np.float32, bool: np.bool_}.get(type(labels[0]) if labels else int, np.int64)
    with pytest.raises(RuntimeError, match=words):
        torch.nn.functional.one_hot(torch.tensor(np.array(labels, dtype=dtype)), num_classes)
    with pytest.raises(error, match=words):
        F.one_hot(dl.tensor(np.array(labels, dtype=dtype)), num_classes)


# ------------------------------------------------------------------ the tutorial, end to end
def test_tutorial_device_loop_trains_a_small_mlp() -> None:
    dl.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)

    device = dl.device("cuda" if dl.cuda.is_available() else "cpu")
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).to(device)
    optimizer = dl.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    first = last = None
    for _ in range(20):
        running, seen = 0.0, 0
        for xb, yb in loader:  # Tensors, as torch's DataLoader yields
            xb, yb = xb.to(device), yb.to(device).long()
            loss = loss_fn(model(xb.view(-1, 4)), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.size(0)
            seen += xb.size(0)
        first = running / seen if first is None else first
        last = running / seen
    assert seen == 64 and isinstance(last, float) and last < first / 2
    out = model(dl.tensor(x, device=device))
    preds = out.argmax(1).cpu().numpy()
    assert isinstance(preds, np.ndarray) and (preds == y).mean() > 0.9
    labels = F.one_hot(dl.tensor(y, dtype=dl.int64, device=device), num_classes=2)
    assert labels.shape == (64, 2) and labels.sum().item() == 64
    assert dl.zeros(3, device=device).device == device


def test_numpy_functions_on_batch_tensors_follow_numpy(torch) -> None:
    x = np.arange(6, dtype=np.float32)
    t = dl.tensor(x)
    assert np.mean(t) == np.mean(x) and np.std(t) == np.std(x)  # NumPy's ddof=0, not torch's
    assert np.sum(t == np.array([0, 1, 9, 3, 4, 5])) == 5  # the accuracy line of a training loop
    assert np.concatenate([t, t]).shape == (12,) and isinstance(np.max(t), np.floating)


def test_size_pickles_and_copies() -> None:
    import copy
    import pickle

    size = dl.zeros(2, 3).size
    for again in (pickle.loads(pickle.dumps(size)), copy.deepcopy(size), copy.copy(size)):
        assert again == 6 and again() == (2, 3) and again(1) == 3


def test_casts_to_the_same_dtype_return_the_same_object_as_torch(torch) -> None:
    p = nn.Parameter(np.ones(2, np.float32))
    tp = torch.nn.Parameter(torch.ones(2))
    assert (p.float() is p) == (tp.float() is tp) is True
    assert dl.tensor(np.arange(3)).long().dtype == np.int64
    model = nn.Linear(2, 1)
    weight = model.weight.data
    model.to("cpu", np.float32)
    assert model.weight.data is weight  # nothing to cast: the same storage, as torch
    with pytest.raises(TypeError, match="does not accept copy argument"):
        model.to(copy=True)
    with pytest.raises(ValueError, match="Invalid device string: 'cuda:01'"):
        dl.device("cuda:01")
    with pytest.raises(TypeError, match="num_classes must be an int"):
        F.one_hot(dl.tensor([0, 1]), 2.0)


def test_like_factories_follow_torch(torch) -> None:
    t, tt = dl.zeros(2, 3), torch.zeros(2, 3)
    for ours, theirs in ((dl.full_like(t, 2), torch.full_like(tt, 2)),
                         (dl.ones_like(dl.tensor([1, 2])), torch.ones_like(torch.tensor([1, 2]))),
                         (dl.empty_like(t, dtype=np.float64), torch.empty_like(tt, dtype=torch.float64))):  # fmt: skip
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(dl.full_like(t, 2).numpy(), torch.full_like(tt, 2).numpy())
    dl.manual_seed(0)
    first = dl.randn_like(t, device="cpu").numpy()
    dl.manual_seed(0)
    np.testing.assert_array_equal(dl.randn_like(t).numpy(), first)  # the seeded generator
    assert dl.rand_like(t).numpy().min() >= 0 and dl.rand_like(t).numpy().max() < 1
    with pytest.raises(RuntimeError):
        torch.rand_like(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="need a floating dtype"):
        dl.rand_like(dl.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="CPU only"):
        dl.zeros_like(t, device="cuda")
