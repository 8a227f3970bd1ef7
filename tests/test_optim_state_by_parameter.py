"""`optimizer.state[p]`: a parameter's state found by the parameter, as in PyTorch, while the state
stays a list in parameter order (`state[i]`, the numbering of `state_dict()`)."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import optim


def _params() -> list[dl.nn.Parameter]:
    rng = np.random.default_rng(0)
    return [dl.nn.Parameter(rng.standard_normal(s)) for s in [(3, 2), (2,), (4,)]]


def test_state_by_parameter_is_state_by_position():
    ps = _params()
    opt = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01)
    for p in ps[:2]:  # the third has no gradient: no state, as in PyTorch
        p.grad = np.ones(p.data.shape)
    opt.step()
    for i, p in enumerate(ps):
        assert opt.state[p] is opt.state[i]
    assert opt.state[ps[0]]["exp_avg"].shape == (3, 2)
    assert opt.state[ps[2]] == {}
    assert opt.state.keys() == ps[:2] and ps[0] in opt.state and ps[2] not in opt.state
    assert [row for row in opt.state.values()] == [opt.state[0], opt.state[1]]
    assert [p for p, _ in opt.state.items()] == ps[:2]
    assert len(opt.state) == 2 and list(opt.state) == ps[:2]  # a dict of the parameters with state
    opt.state[ps[2]] = {"step": 5}
    assert opt.state[2] == {"step": 5}


def test_a_tensor_that_is_not_a_parameter_of_the_optimizer_is_a_clear_key_error():
    opt = optim.SGD(_params(), lr=0.1)
    with pytest.raises(KeyError, match="not a parameter of this optimizer"):
        opt.state[dl.nn.Parameter(np.zeros(2))]
    assert dl.nn.Parameter(np.zeros(2)) not in opt.state


def test_state_by_parameter_survives_load_state_dict_and_add_param_group():
    ps = _params()
    opt = optim.SGD(ps[:2], lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = np.ones(p.data.shape)
    opt.step()
    again = optim.SGD(ps[:2], lr=0.1, momentum=0.9)
    again.load_state_dict(opt.state_dict())
    np.testing.assert_array_equal(again.state[ps[1]]["momentum_buffer"], np.ones(2))
    again.add_param_group({"params": [ps[2]]})
    again.step()
    np.testing.assert_array_equal(again.state[ps[2]]["momentum_buffer"], np.ones(4))


def test_the_same_entries_as_torch_under_the_same_parameter(torch):
    ps = _params()
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    ours = optim.Adam(ps, lr=0.01, amsgrad=True)
    theirs = torch.optim.Adam(tps, lr=0.01, amsgrad=True, foreach=False)
    for _ in range(3):
        for p, tp in zip(ps, tps):
            p.grad = np.cos(p.data)
            tp.grad = torch.tensor(p.grad.copy())
        ours.step()
        theirs.step()
    for p, tp in zip(ps, tps):
        assert set(ours.state[p]) == set(theirs.state[tp])
        np.testing.assert_allclose(ours.state[p]["exp_avg_sq"], theirs.state[tp]["exp_avg_sq"])
    assert len(ours.state.keys()) == len(theirs.state)


def test_the_state_view_pickles_copies_and_answers_in_for_any_object():
    import copy
    import pickle

    ps = _params()
    opt = optim.Adam(ps, lr=0.01)
    for p in ps:
        p.grad = np.ones(p.data.shape)
    opt.step()
    again = pickle.loads(pickle.dumps(opt.state))
    np.testing.assert_array_equal(again[0]["exp_avg"], opt.state[0]["exp_avg"])
    copied_state = copy.deepcopy(opt.state)
    assert len(copied_state) == 3 and copied_state[2].keys() == opt.state[2].keys()
    assert all(a is not b for a, b in zip(copied_state.values(), opt.state.values()))
    assert ps[0].data not in opt.state and "exp_avg" not in opt.state  # neither raises
    assert opt.state.get(ps[0]) is opt.state[0]
    assert opt.state.get(dl.nn.Parameter(np.zeros(1)), "none") == "none"
    copied = copy.deepcopy(opt)  # a copy of the optimizer finds its own parameters' state
    q = copied.param_groups[0]["params"][0]
    np.testing.assert_array_equal(copied.state[q]["exp_avg"], opt.state[ps[0]]["exp_avg"])


def test_deleting_and_clearing_state_as_in_torch(torch):
    """len() and iteration see the parameters with state; `del state[p]` and `clear()` make the
    next step start that state afresh: the same trajectory as torch's."""
    ps = _params()
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    ours = optim.SGD(ps, lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(tps, lr=0.1, momentum=0.9, foreach=False)

    def step(active: int) -> None:
        for p, tp in list(zip(ps, tps))[:active]:
            p.grad = np.cos(p.data)
            tp.grad = torch.tensor(p.grad.copy())
        ours.step()
        theirs.step()

    step(active=2)  # the third parameter has no gradient yet: no state
    assert len(ours.state) == len(theirs.state) == 2
    assert [id(p) for p in ours.state] == [id(p) for p in ps[:2]]
    assert list(theirs.state) == tps[:2]
    del ours.state[ps[0]]
    del theirs.state[tps[0]]
    assert len(ours.state) == len(theirs.state) == 1 and ps[0] not in ours.state
    with pytest.raises(KeyError, match="no optimizer state"):
        del ours.state[ps[0]]
    step(active=3)
    ours.state.clear()
    theirs.state.clear()
    assert len(ours.state) == len(theirs.state) == 0 and list(ours.state) == []
    step(active=3)
    step(active=3)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            ours.state[p]["momentum_buffer"], theirs.state[tp]["momentum_buffer"], rtol=1e-12
        )
