"""Module, Parameter, registration, dotted names, state_dict round trips (also with PyTorch),
train/eval, zero_grad, Sequential and repr."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.ones(2, dtype=np.float32))
        self.encoder = Block()
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
        self.register_buffer("steps", np.zeros(1))
        self.register_buffer("scratch", np.zeros(3), persistent=False)
        self.not_a_param = dl.tensor([1.0, 2.0])  # a plain tensor attribute is not registered

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    assert isinstance(p, dl.Tensor) and p.requires_grad and p.is_leaf
    assert p.shape == (2, 3) and p.dtype == np.float32
    assert repr(p).startswith("Parameter containing:\ntensor(")
    src = np.ones(2, dtype=np.float32)
    q = nn.Parameter(src)
    src[0] = 5
    assert q.data[0] == 1  # a Parameter owns a copy of the array it was built from
    assert not nn.Parameter(np.ones(1), requires_grad=False).requires_grad


def test_registration_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "scale",
        "encoder.fc1.weight",
        "encoder.fc1.bias",
        "encoder.fc2.weight",
        "encoder.fc2.bias",
        "head.0.weight",
        "head.0.bias",
    ]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_modules()] == [
        "", "encoder", "encoder.fc1", "encoder.act", "encoder.fc2", "head", "head.0", "head.1",
    ]  # fmt: skip
    assert [n for n, _ in net.named_children()] == ["encoder", "head"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert net.encoder.fc1.weight.shape == (3, 4)


def test_shared_parameters_appear_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_reassigning_attributes():
    net = Net()
    net.encoder = nn.Linear(4, 2)  # a module replaces a module, in the same place (as PyTorch)
    assert [n for n, _ in net.named_parameters()][1:3] == ["encoder.weight", "encoder.bias"]
    net.scale = nn.Parameter(np.zeros(2, dtype=np.float32))
    assert next(iter(net.named_parameters()))[0] == "scale"
    net.scale = None  # a parameter may be set to None (absent)
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="registered as a Module"):
        net.head = dl.tensor([1.0])
    net.steps = np.array([3.0])  # buffers accept arrays
    assert net.state_dict()["steps"][0] == 3.0
    del net.head
    assert "head.0.weight" not in dict(net.named_parameters())


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(RuntimeError, match="super\\(\\).__init__\\(\\)"):
        Broken()


def test_state_dict_holds_copies_of_params_and_persistent_buffers():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == [
        "scale", "steps", "encoder.fc1.weight", "encoder.fc1.bias", "encoder.fc2.weight",
        "encoder.fc2.bias", "head.0.weight", "head.0.bias",
    ]  # fmt: skip
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["scale"][:] = 100
    assert net.scale.data[0] == 1


def test_load_state_dict_round_trip():
    dl.manual_seed(0)
    a = Net()
    dl.manual_seed(1)
    b = Net()
    x = dl.randn(5, 4)
    assert not np.allclose(a(x).data, b(x).data)
    weight_before = b.encoder.fc1.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert b.encoder.fc1.weight is weight_before  # loaded in place: optimizers keep their params
    assert b.encoder.fc1.weight.dtype == np.float32


def test_load_state_dict_errors_change_nothing():
    net = Net()
    before = net.state_dict()
    bad = net.state_dict()
    del bad["scale"]
    bad["extra.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError, match=r"(?s)missing keys: \['scale'\].*unexpected keys"):
        net.load_state_dict(bad)
    wrong = net.state_dict()
    wrong["encoder.fc1.weight"] = np.zeros((4, 3))
    wrong["encoder.fc1.bias"] = np.full(3, 7.0)
    with pytest.raises(RuntimeError, match=r"encoder.fc1.weight: .*shape \(4, 3\).* is \(3, 4\)"):
        net.load_state_dict(wrong)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # the valid bias was not loaded either
    result = net.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["extra.weight"]


def _torch_mlp(torch):
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3, bias=False)
    )


def _our_mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3, bias=False))


@pytest.mark.torch
def test_state_dict_exchange_with_torch_sequential(torch, rng):
    theirs, ours = _torch_mlp(torch), _our_mlp()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = rng.standard_normal((5, 4)).astype(np.float32)
    ours.load_state_dict(theirs.state_dict())  # torch tensors are accepted directly
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(dl.tensor(x)).data, expected, rtol=1e-5, atol=1e-6)
    # and back: our arrays into a fresh torch model
    fresh = _torch_mlp(torch)
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(fresh(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6)


@pytest.mark.torch
def test_repr_matches_torch(torch):
    assert repr(_our_mlp()) == repr(_torch_mlp(torch))
    assert repr(nn.Linear(3, 2)) == repr(torch.nn.Linear(3, 2))
    assert repr(Block()).startswith("Block(\n  (fc1): Linear(in_features=4, out_features=3")


def test_train_eval_and_requires_grad_are_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert net.encoder.fc1.training
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_grad_sets_none_or_zeros():
    net = Net()
    net(dl.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    grad = net.encoder.fc1.weight.grad
    net.zero_grad(set_to_none=False)
    assert net.encoder.fc1.weight.grad is grad and not grad.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_every_module():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3


def test_sequential_forward_indexing_and_errors():
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    x = dl.randn(5, 4)
    manual = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x).data, manual.data)
    assert len(model) == 3 and [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert isinstance(model[-1], nn.Linear)
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    model.append(nn.Tanh())
    assert [n for n, _ in model.named_children()] == ["0", "1", "2", "3"]
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("out", nn.Linear(2, 1))]))
    assert [n for n, _ in named.named_parameters()] == [
        "hidden.weight", "hidden.bias", "out.weight", "out.bias",
    ]  # fmt: skip
    with pytest.raises(TypeError, match="argument 1 is a int"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list_and_dict_register_children():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    assert [n for n, _ in heads.named_parameters()][:2] == ["a.weight", "a.bias"]
    assert "b" in heads and heads["b"].out_features == 3


def test_module_list_and_dict_editing_follows_torch(torch):
    """insert / del / slice renumber a ModuleList; update / pop / clear edit a ModuleDict; the
    state_dict keys come out as PyTorch's for the same edits."""

    def edit(m):
        layers = m.ModuleList([m.Linear(2, 2), m.Linear(2, 3)])
        layers.insert(0, m.Linear(2, 4))
        layers.append(m.ReLU())
        layers[-1] = m.Linear(3, 1)
        del layers[1]
        heads = m.ModuleDict({"a": m.Linear(2, 1)})
        heads.update({"b": m.Linear(2, 2)})
        heads.update([("c", m.Linear(2, 3))])
        heads.pop("a")
        del heads["c"]
        return m.ModuleDict({"layers": layers, "heads": heads}), layers

    ours, layers = edit(nn)
    theirs, tlayers = edit(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [x.out_features for x in layers] == [x.out_features for x in tlayers] == [4, 3, 1]
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    assert layers[-1].out_features == 1
    with pytest.raises(IndexError):
        layers[3]
    ours["heads"].clear()
    assert len(ours["heads"]) == 0


def test_gradients_reach_every_parameter_of_a_nested_model():
    net = Net()
    net(dl.randn(3, 4)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name


def test_sequential_editing_follows_torch(torch):
    def edit(m):
        seq = m.Sequential(m.Linear(2, 3), m.ReLU(), m.Linear(3, 4))
        seq.append(m.Tanh())
        seq.extend([m.Linear(4, 5)])
        seq.insert(1, m.Linear(3, 3))
        del seq[0]
        seq[0] = m.Linear(2, 3)
        popped = seq.pop(2)
        return seq, popped

    (ours, popped), (theirs, tpopped) = edit(nn), edit(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs) and repr(popped) == repr(tpopped)


def test_get_submodule_parameter_buffer_by_dotted_path():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.BatchNorm1d(3), nn.ReLU()))
    assert model.get_submodule("") is model
    assert model.get_submodule("1.0") is model[1][0]
    assert model.get_parameter("0.weight") is model[0].weight
    assert model.get_buffer("1.0.running_mean") is model[1][0].running_mean
    assert [n for n, _ in model.named_buffers(recurse=False)] == []
    assert len(list(model[1][0].buffers(recurse=False))) == 3
    with pytest.raises(AttributeError, match="no sub-module '2'"):
        model.get_submodule("2.weight")
    with pytest.raises(AttributeError, match="no parameter 'bias2'"):
        model.get_parameter("0.bias2")
