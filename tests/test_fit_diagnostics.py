"""GradientMonitor: per-layer gradient norms, update/weight ratios, dead ReLUs, warnings."""

from __future__ import annotations

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.train import GradientMonitor, GradientWarning, LambdaCallback, fit


def data(n=64, d=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def test_norms_and_update_ratios_match_hand_computation():
    x, y = data()
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    grads = {}
    grab = LambdaCallback(
        on_after_backward=lambda b, logs: grads.update(
            {n: p.grad.astype(np.float64) for n, p in model.named_parameters()}
        )
    )
    monitor = GradientMonitor()
    opt = dl.optim.get("sgd", model.parameters(), lr=0.1)
    fit(model, x, y, loss="cross_entropy", optimizer=opt, batch_size=64, epochs=1,
        callbacks=[grab, monitor], verbose=0)  # fmt: skip
    (record,) = monitor.records
    for name, g in grads.items():
        assert record["grad_norm"][name] == pytest.approx(np.linalg.norm(g), rel=1e-6)
        w = np.linalg.norm(before[name].astype(np.float64))
        step = np.linalg.norm(model.state_dict()[name].astype(np.float64) - before[name])
        assert record["update_ratio"][name] == pytest.approx(step / w, rel=1e-6)
        assert step == pytest.approx(0.1 * np.linalg.norm(g), rel=1e-4)
    assert record["dead_relu"] == {"1": pytest.approx(record["dead_relu"]["1"])}
    assert "0.weight" in monitor.summary()


def test_deep_sigmoid_stack_shows_vanishing_gradients_and_warns():
    x, y = data()
    dl.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 2))
    monitor = GradientMonitor(vanishing=1e-5)
    with pytest.warns(GradientWarning, match="vanishing gradient in '0.weight'"):
        fit(model, x, y, loss="cross_entropy", optimizer="sgd", batch_size=16, epochs=1,
            callbacks=[monitor], verbose=0)  # fmt: skip
    norms = monitor.records[0]["grad_norm"]
    assert norms["0.weight"] < 1e-3 * norms["16.weight"]  # orders of magnitude smaller at the input
    assert any("vanishing" in w for w in monitor.warnings)


def test_dead_relu_fraction_and_exploding_warning():
    x, y = data()
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
    model[0].bias.data[:6] = -1e3  # 6 of 8 units can never fire
    monitor = GradientMonitor(exploding=1e-9, log=True)
    with pytest.warns(GradientWarning) as caught:
        history = fit(model, x, y, loss="cross_entropy", optimizer="sgd", batch_size=32,
                      epochs=2, callbacks=[monitor], verbose=0)  # fmt: skip
    messages = [str(w.message) for w in caught]
    assert any("75% of the units after ReLU '1' are dead" in m for m in messages)
    assert any("exploding gradient" in m for m in messages)
    assert monitor.records[-1]["dead_relu"] == {"1": 0.75}
    assert history.history["dead_relu"] == [0.75, 0.75]
    assert history.history["grad_norm_max"][0] >= history.history["grad_norm_min"][0] > 0
    assert model.training  # the probe pass restored train mode
    assert "forward" not in model[1].__dict__  # and removed its hook
    state = monitor.state_dict()
    fresh = GradientMonitor()
    fresh.load_state_dict(state)
    assert fresh.records == monitor.records
