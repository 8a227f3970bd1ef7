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


def _as_torch(torch, mine: dict, torchs: dict) -> dict:  # noqa: ANN001
    """Our state_dict with its arrays as tensors and only the group keys torch's has."""
    return {
        "state": {i: {k: torch.tensor(v) for k, v in row.items()} for i, row in mine["state"].items()},
        "param_groups": [{k: v for k, v in g.items() if k in torchs["param_groups"][0]}
                         for g in mine["param_groups"]],
    }  # fmt: skip


def test_state_dict_is_keyed_by_index_and_loads_across_libraries(torch):
    """`state_dict()["state"]` is {index: state} over the parameters that have state, as torch
    writes it; torch's state_dict loads into ours and ours into torch, and both runs then go on
    as the uninterrupted one."""
    ps = _params()
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    ours = optim.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}], lr=0.01, amsgrad=True)
    theirs = torch.optim.Adam(
        [{"params": tps[:2]}, {"params": tps[2:], "lr": 0.1}], lr=0.01, amsgrad=True, foreach=False
    )

    def step(opt_ours, opt_theirs, active: int = 3) -> None:
        for p, tp in list(zip(ps, tps))[:active]:
            p.grad = np.cos(3.0 * p.data)
            tp.grad = torch.tensor(p.grad.copy())
        opt_ours.step()
        opt_theirs.step()

    step(ours, theirs, active=2)  # the third parameter has no gradient yet: no state
    assert list(ours.state_dict()["state"]) == list(theirs.state_dict()["state"]) == [0, 1]
    step(ours, theirs)
    mine, torchs = ours.state_dict(), theirs.state_dict()
    assert mine["state"].keys() == torchs["state"].keys() == {0, 1, 2}
    for i, row in torchs["state"].items():
        assert set(mine["state"][i]) == set(row)
        np.testing.assert_allclose(mine["state"][i]["max_exp_avg_sq"], row["max_exp_avg_sq"])

    def as_numpy(x):
        return x.numpy().copy() if isinstance(x, torch.Tensor) else x

    # ours continues from torch's state, torch from ours (a step count as a float, as torch has it)
    ours_from_torch = optim.Adam([{"params": ps[:2]}, {"params": ps[2:]}], lr=0.0)
    ours_from_torch.load_state_dict(
        {
            "state": {
                i: {k: as_numpy(v) for k, v in row.items()} for i, row in torchs["state"].items()
            },
            "param_groups": torchs["param_groups"],
        }  # fmt: skip
    )
    theirs_from_ours = torch.optim.Adam(
        [{"params": tps[:2]}, {"params": tps[2:]}], lr=0.0, foreach=False
    )
    theirs_from_ours.load_state_dict(_as_torch(torch, mine, torchs))
    assert ours_from_torch.state[ps[0]]["step"] == 2  # torch's float32 tensor, as our count
    assert type(ours_from_torch.state[ps[0]]["step"]) is int
    assert [g["lr"] for g in ours_from_torch.param_groups] == [0.01, 0.1]
    assert [g["lr"] for g in theirs_from_ours.param_groups] == [0.01, 0.1]
    for _ in range(5):
        step(ours_from_torch, theirs_from_ours)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            ours_from_torch.state[p]["exp_avg"], theirs_from_ours.state[tp]["exp_avg"], rtol=1e-12
        )


def test_a_state_dict_naming_a_parameter_the_optimizer_lacks_is_refused():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    good = {
        "state": {"1": {"momentum_buffer": np.ones(2)}},
        "param_groups": opt.state_dict()["param_groups"],
    }
    opt.load_state_dict(good)  # a JSON round trip turns the keys into strings
    np.testing.assert_array_equal(opt.state[ps[1]]["momentum_buffer"], np.ones(2))
    assert opt.state[ps[0]] == {}
    for bad in (3, -1, "first"):
        with pytest.raises(ValueError, match=f"parameter {bad!r}.*parameters 0 to 2"):
            opt.load_state_dict({"state": {bad: {}}, "param_groups": good["param_groups"]})


def test_adagrad_state_exists_before_the_first_step_as_in_torch(torch):
    """torch's AdaGrad creates its accumulator (at initial_accumulator_value) and step 0 in the
    constructor; ours too, also for a group added later (where torch's first step would fail)."""
    ps = _params()
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    ours = optim.Adagrad(ps[:2], lr=0.1, initial_accumulator_value=0.5)
    theirs = torch.optim.Adagrad(tps[:2], lr=0.1, initial_accumulator_value=0.5, foreach=False)
    assert len(ours.state) == len(theirs.state) == 2
    assert ours.state_dict()["state"].keys() == theirs.state_dict()["state"].keys() == {0, 1}
    for p, tp in zip(ps[:2], tps[:2]):
        assert ours.state[p]["step"] == 0 == float(theirs.state[tp]["step"])
        np.testing.assert_array_equal(ours.state[p]["sum"], theirs.state[tp]["sum"].numpy())
    ours.add_param_group({"params": [ps[2]], "lr": 0.05})
    assert ours.state[ps[2]]["step"] == 0 and np.all(ours.state[ps[2]]["sum"] == 0.5)
    theirs.add_param_group({"params": [tps[2]], "lr": 0.05})
    theirs.state[tps[2]].update(step=torch.tensor(0.0), sum=torch.full_like(tps[2], 0.5))
    for step in range(4):  # the first parameter gets no gradient at step 1: its state waits
        for p, tp in zip(ps, tps):
            p.grad = None if (step == 0 and p is ps[0]) else np.sin(2.0 * p.data)
            tp.grad = None if p.grad is None else torch.tensor(p.grad.copy())
        ours.step()
        theirs.step()
        assert [ours.state[p]["step"] for p in ps] == [float(theirs.state[t]["step"]) for t in tps]
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(
            ours.state[p]["sum"], theirs.state[tp]["sum"].numpy(), rtol=1e-12
        )


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("RMSprop", {"momentum": 0.5, "centered": True}),
        ("Adadelta", {}),
        ("Adam", {}),
        ("NAdam", {}),
        ("Adagrad", {"lr_decay": 0.01}),
    ],  # fmt: skip
)
def test_state_dicts_carry_over_between_torch_and_ours_as_they_are(torch, name, kwargs):
    """torch's state_dict loads here as torch gives it (tensors, float32 step counts), ours into
    torch once its arrays are tensors, for optimizers whose state holds a step count (RMSprop and
    Adadelta keep one that their update does not use): both runs then go on alike."""
    ps = _params()
    tps = [torch.tensor(p.data.copy(), requires_grad=True) for p in ps]
    ours = getattr(optim, name)(ps, lr=0.01, **kwargs)
    theirs = getattr(torch.optim, name)(tps, lr=0.01, foreach=False, **kwargs)

    def step(opt_ours, opt_theirs) -> None:
        for p, tp in zip(ps, tps):
            p.grad = np.cos(3.0 * p.data)
            tp.grad = torch.tensor(p.grad.copy())
        opt_ours.step()
        opt_theirs.step()

    for _ in range(3):
        step(ours, theirs)
    mine, torchs = ours.state_dict(), theirs.state_dict()
    assert {i: set(row) for i, row in mine["state"].items()} == {
        i: set(row) for i, row in torchs["state"].items()
    }
    ours_from_torch = getattr(optim, name)(ps, lr=0.01, **kwargs)
    ours_from_torch.load_state_dict(theirs.state_dict())  # torch's tensors as they are
    assert all(
        type(row["step"]) is int and row["step"] == 3 for row in ours_from_torch.state.values()
    )
    theirs_from_ours = getattr(torch.optim, name)(tps, lr=0.01, foreach=False, **kwargs)
    theirs_from_ours.load_state_dict(_as_torch(torch, mine, torchs))
    for _ in range(4):
        step(ours_from_torch, theirs_from_ours)
    # torch keeps NAdam's running product of momenta as a tensor of its default dtype (float32
    # here), so its float64 run rounds that product to float32 at every step
    rtol = 1e-7 if name == "NAdam" else 1e-12
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=rtol)
    assert all(row["step"] == 7 for row in ours_from_torch.state.values())
    assert all(float(row["step"]) == 7 for row in theirs_from_ours.state.values())


def test_a_state_index_written_in_another_form_is_refused_not_dropped():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    groups = opt.state_dict()["param_groups"]
    for bad in ("01", True, " 1"):
        with pytest.raises(ValueError, match="state_dict holds state for parameter"):
            opt.load_state_dict(
                {"state": {bad: {"momentum_buffer": np.ones(2)}}, "param_groups": groups}
            )
    opt.load_state_dict(
        {"state": {np.int64(1): {"momentum_buffer": np.ones(2)}}, "param_groups": groups}
    )
    np.testing.assert_array_equal(opt.state[ps[1]]["momentum_buffer"], np.ones(2))
