"""The 2-D playground: surfaces, runner, tuning, divergence, plots and tables."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from descentlab.gradcheck import gradcheck
from descentlab.lab import (
    FUNCTIONS,
    expression,
    get_function,
    parse_function_spec,
    parse_optimizers,
    run_playground,
)
from descentlab.lab.playground import DEFAULT_LR_GRID
from descentlab.optim import transforms as T

SURFACES = [get_function(name) for name in FUNCTIONS] + [
    get_function("quadratic", condition=50.0, angle=30.0),
    get_function("rosenbrock", a=2.0, b=10.0),
    expression("sin(x) * exp(-y**2) + 0.1*(x**2 + y**2) + tanh(x*y) + sigmoid(y)"),
]
IDS = [f"{s.name}{dict(s.params) or ''}" for s in SURFACES[:-1]] + ["expr"]


# ------------------------------------------------------------------------------ surfaces
@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_gradient_matches_finite_differences(surface):
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = surface.plot_range
    for _ in range(4):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        assert gradcheck(surface, p, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_numpy_and_autograd_evaluations_agree(surface):
    rng = np.random.default_rng(1)
    x0, x1, y0, y1 = surface.plot_range
    pts = np.column_stack([rng.uniform(x0, x1, 5), rng.uniform(y0, y1, 5)])
    grid_values = surface.numpy(pts[:, 0], pts[:, 1])
    from descentlab.tensor import Tensor

    for p, v in zip(pts, grid_values):
        assert float(surface(Tensor(p)).item()) == pytest.approx(v, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_listed_minima_are_stationary_with_the_stated_value(name):
    s = get_function(name)
    for m in s.minima:
        assert s.value(m) == pytest.approx(s.f_min, abs=1e-12)
        if s.smooth_minima:
            assert np.linalg.norm(s.gradient(m)) < 1e-9 * max(1.0, abs(s.value((0.5, 0.5))))
    for m in s.minima + s.local_minima:
        # a minimum: every nearby point is higher
        for d in np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [-1, 1]]) * 1e-3:
            assert s.value(np.add(m, d)) > s.value(m)
        if s.smooth_minima:
            assert np.linalg.norm(s.gradient(m)) < 1e-9
    if s.f_min is not None:
        # f* is the global minimum: nothing on a fine grid over the domain is lower
        x0, x1, y0, y1 = s.domain
        X, Y = np.meshgrid(np.linspace(x0, x1, 401), np.linspace(y0, y1, 401))
        assert s.numpy(X, Y).min() >= s.f_min - 1e-9


def test_saddle_point_is_stationary_but_not_a_minimum():
    s = get_function("saddle")
    (sp,) = s.saddle_points
    assert np.all(s.gradient(sp) == 0)
    assert s.value((0.0, 0.1)) < s.value(sp) < s.value((0.1, 0.0))
    assert s.f_min is None and s.unbounded_below


def test_himmelblau_has_four_minima_and_branin_three():
    assert len(get_function("himmelblau").minima) == 4
    assert len(get_function("branin").minima) == 3


def test_quadratic_condition_number_is_the_curvature_ratio():
    s = get_function("quadratic", condition=25.0)
    h = 1e-4
    fx = (s.value((h, 0)) + s.value((-h, 0)) - 2 * s.value((0, 0))) / h**2
    fy = (s.value((0, h)) + s.value((0, -h)) - 2 * s.value((0, 0))) / h**2
    assert fy / fx == pytest.approx(25.0, rel=1e-5)
    with pytest.raises(ValueError, match="condition number must be >= 1"):
        get_function("quadratic", condition=0.5)


def test_function_spec_parsing_and_errors():
    assert parse_function_spec("quadratic:condition=100,angle=30").params == {
        "condition": 100.0,
        "angle": 30.0,
    }
    assert get_function("Goldstein-Price").name == "goldstein_price"
    with pytest.raises(ValueError, match="did you mean 'rosenbrock'"):
        get_function("rosenbrok")
    with pytest.raises(ValueError, match="not key=value"):
        parse_function_spec("quadratic:100")
    with pytest.raises(ValueError, match="accepts"):
        parse_function_spec("beale:condition=3")


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('true')",
        "x.real",
        "open('f')",
        "[x for x in y]",
        "lambda: x",
        "x if y else 1",
        "exp(x, y)",
        "exp(x=1)",
        "z + x",
        "'a' + x",
    ],
)
def test_expression_parser_rejects_anything_but_math(text):
    with pytest.raises(ValueError, match="expression"):
        expression(text)


def test_expression_errors_and_fields():
    with pytest.raises(ValueError, match="does not use x or y"):
        expression("1 + 2")
    with pytest.raises(ValueError, match="not a valid formula"):
        expression("x +* y")
    with pytest.raises(ValueError, match="give a formula"):
        expression("  ")
    s = expression("(x - 1)**2 + 10*(y + 2)**2", minima=((1, -2),), plot_range=(-3, 3, -4, 2))
    assert s.f_min == 0.0 and s.distance_to_minimum((1, -1)) == pytest.approx(1.0)
    assert s.plot_range == (-3, 3, -4, 2)
    assert np.allclose(s.gradient((0.0, 0.0)), [-2.0, 40.0])
    # constants are floats, so a huge power overflows at once (a clear error) instead of hanging
    with pytest.raises(ValueError, match="cannot be evaluated"):
        expression("x + 9**9**9")


# ------------------------------------------------------------------------------ runner
def test_table_has_one_row_per_optimizer_and_same_budget():
    res = run_playground("booth", "sgd,momentum,adam", steps=60, lr="default")
    assert [r["optimizer"] for r in res.table] == ["sgd", "momentum", "adam"]
    for row in res.table:
        assert row["lr_source"] == "default" and row["runs"] == 1
        assert len(res.runs[row["optimizer"]][0].positions) == 61
        assert np.allclose(res.runs[row["optimizer"]][0].positions[0], (-8.0, 8.0))
    assert res.settings["steps"] == 60 and res.settings["tuned"] is False


def _registry_lr(name):
    from descentlab.optim import registry

    return registry.REGISTRY[name].defaults["lr"]


def test_saddle_adaptive_methods_escape_far_sooner_than_sgd_with_default_settings():
    """Literature: on x^2 - y^2 from (1, 1e-3), AdaGrad and RMSProp leave the saddle much sooner
    than plain SGD, whose y grows by (1 + 2 lr) per step: ln(1000) / ln(1 + 2 lr) steps."""
    sgd_lr = _registry_lr("sgd")
    expected = math.log(1.0 / 1e-3) / math.log(1 + 2 * sgd_lr)  # |y| = 1 escapes (f <= -1 + x^2)
    res = run_playground(
        "saddle", "sgd,adagrad,rmsprop", steps=int(1.2 * expected) + 10, lr="default",
        start=(1, 1e-3),
    )  # fmt: skip
    steps = {r["optimizer"]: r["steps_to_target"] for r in res.table}
    assert steps["sgd"] == pytest.approx(expected, abs=3)
    assert steps["adagrad"] is not None and steps["adagrad"] * 2 < steps["sgd"]
    assert steps["rmsprop"] is not None and steps["rmsprop"] * 2 < steps["sgd"]
    # leaving the box on an unbounded-below surface is descending, not diverging
    assert all(r["diverged"] == 0 and r["status"] == "reached" for r in res.table)


def test_saddle_at_one_shared_lr_adagrads_shrinking_step_loses():
    """The flip side the pictures rarely show: at the same lr = 0.01, RMSProp still escapes ~20x
    sooner than SGD, but AdaGrad's ever-growing accumulator makes it slower than SGD."""
    res = run_playground("saddle", "sgd,adagrad,rmsprop", steps=2000, lr=0.01, start=(1, 1e-3))
    steps = {r["optimizer"]: r["steps_to_target"] for r in res.table}
    assert steps["rmsprop"] * 10 < steps["sgd"] < steps["adagrad"]


def test_ill_conditioned_quadratic_momentum_beats_sgd_at_the_same_lr():
    res = run_playground("quadratic:condition=10", "sgd,momentum", steps=600, lr=0.01)
    steps = {r["optimizer"]: r["steps_to_target"] for r in res.table}
    assert steps["sgd"] is not None and steps["momentum"] is not None
    assert steps["momentum"] * 3 < steps["sgd"]


def test_a_diverging_run_is_reported_as_diverged_and_not_plotted():
    res = run_playground("rosenbrock", "sgd(lr=0.1),adam", steps=50, lr={"adam": 0.01})
    bad, good = res.table
    assert bad["status"] == "diverged" and bad["diverged"] == 1 and bad["final_f"] is None
    assert good["diverged"] == 0 and good["final_f"] is not None
    run = res.runs["sgd(lr=0.1)"][0]
    assert run.diverged and len(run.positions) < 51
    x0, x1, y0, y1 = get_function("rosenbrock").bounds
    assert np.all(np.isfinite(run.positions)) and np.all(np.isfinite(run.values))
    assert np.all((run.positions[:, 0] >= x0) & (run.positions[:, 0] <= x1))
    assert np.all((run.positions[:, 1] >= y0) & (run.positions[:, 1] <= y1))


def test_nan_is_divergence():
    s = expression("log(x) + y**2", plot_range=(0.01, 3, -2, 2), start=(0.5, 1))
    res = run_playground(s, "sgd", lr=1.0, steps=10)
    assert res.table[0]["status"] == "diverged"
    with pytest.raises(ValueError, match="not defined at the start point"):
        run_playground(s, "sgd", lr=1.0, steps=10, start=(-1.0, 0.0))
    fine = run_playground(s, "sgd", lr=1e-3, steps=10)
    assert fine.table[0]["status"] == "finished"  # no known minimum: nothing to reach
    assert np.all(np.isfinite(res.runs["sgd"][0].values))


def test_noise_seeds_are_reproducible_and_shared_across_optimizers():
    kw = dict(steps=40, lr=0.01, noise=0.5, seeds=3, seed=7)
    a = run_playground("quadratic", "sgd,momentum", **kw)
    b = run_playground("quadratic", "sgd,momentum", **kw)
    assert [r.seed for r in a.runs["sgd"]] == [7, 8, 9]
    for label in ("sgd", "momentum"):
        for ra, rb in zip(a.runs[label], b.runs[label]):
            np.testing.assert_array_equal(ra.positions, rb.positions)
    assert not np.array_equal(a.runs["sgd"][0].positions, a.runs["sgd"][1].positions)
    assert a.table[0]["runs"] == 3 and a.table[0]["final_f_std"] is not None
    # the same noise sequence for every optimizer: the first SGD step and the first momentum
    # step (identical in PyTorch's convention) coincide
    np.testing.assert_array_equal(a.runs["sgd"][0].positions[1], a.runs["momentum"][0].positions[1])
    assert "noise" in " ".join(a.settings["notes"])
    quiet = run_playground("quadratic", "sgd", steps=5, lr=0.01, seeds=4)
    assert len(quiet.runs["sgd"]) == 1 and "collapsed" in quiet.settings["notes"][0]


def test_clipping_only_when_asked_and_stated():
    plain = run_playground("booth", "sgd", steps=20, lr=0.01)
    assert plain.settings["clipping"] == "none"
    res = run_playground("booth", "sgd", steps=20, lr=0.01, clip_norm=1.0)
    assert "clipped to L2 norm 1" in res.settings["clipping"]
    assert any("clipped" in n for n in res.settings["notes"])
    moves = np.linalg.norm(np.diff(res.runs["sgd"][0].positions, axis=0), axis=1)
    assert moves.max() <= 0.01 * 1.0 + 1e-12
    assert np.linalg.norm(np.diff(plain.runs["sgd"][0].positions, axis=0), axis=1).max() > 0.1


def test_tuning_is_fair_and_stated():
    grid = [1e-3, 1e-2, 1e-1]
    res = run_playground("quadratic", "sgd,adam", steps=40, tune=True, lr_grid=grid)
    assert res.settings["tuned"] and res.settings["lr_grid"] == grid
    assert "final f" in res.settings["criterion"]
    for row in res.table:
        scores = res.tuning[row["optimizer"]]
        assert [s["lr"] for s in scores] == grid
        best = min(scores, key=lambda s: (s["score"], s["tiebreak"]))
        assert row["lr"] == best["lr"] and row["lr_source"] == "tuned"
    assert res.table[0]["final_f"] == pytest.approx(min(s["score"] for s in res.tuning["sgd"]))
    assert "lr tuned" in res.format_table()
    # tuning is the default when no lr is given, with the default grid
    default = run_playground("booth", "sgd", steps=10)
    assert default.settings["tuned"] and default.settings["lr_grid"] == list(DEFAULT_LR_GRID)
    steps_crit = run_playground("quadratic", "sgd", steps=200, lr_grid=grid, criterion="steps")
    assert "steps" in steps_crit.settings["criterion"] and steps_crit.table[0]["lr"] == 0.1


def test_transform_chain_matches_the_registry_optimizer():
    chain = T.chain(T.trace(momentum=0.9), T.scale_by_learning_rate())
    res = run_playground("rosenbrock", {"momentum": "momentum", "mine": chain}, steps=50, lr=1e-3)
    np.testing.assert_allclose(
        res.runs["mine"][0].positions, res.runs["momentum"][0].positions, rtol=1e-12, atol=1e-14
    )
    fixed = T.chain(T.scale_by_adam(), T.scale_by_learning_rate(0.05))
    tuned = run_playground("booth", {"fixed": fixed, "sgd": "sgd"}, steps=10, lr_grid=[0.01])
    assert tuned.table[0]["lr_source"] == "in transform"
    assert any("fixed: not tuned" in n for n in tuned.settings["notes"])


def test_lbfgs_counts_its_line_search_evaluations():
    res = run_playground("rosenbrock", "lbfgs", steps=40, lr="default")
    row = res.table[0]
    assert row["status"] == "reached" and row["grad_evals"] > 40
    assert any("lbfgs" in n for n in res.settings["notes"])


def test_float64_by_default_and_float32_on_request():
    res = run_playground("booth", "adam", steps=5, lr=0.1)
    assert res.settings["dtype"] == "float64"
    res32 = run_playground("booth", "adam", steps=5, lr=0.1, dtype=np.float32)
    assert res32.settings["dtype"] == "float32"
    assert np.allclose(res.runs["adam"][0].positions, res32.runs["adam"][0].positions, atol=1e-5)


def test_clear_errors():
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        run_playground("booth", "adamm", steps=5)
    with pytest.raises(ValueError, match="did you mean 'himmelblau'"):
        run_playground("himmelblu", "sgd", steps=5)
    with pytest.raises(ValueError, match="start point .* is malformed"):
        run_playground("booth", "sgd", steps=5, start="1;2")
    with pytest.raises(ValueError, match="start point"):
        run_playground("booth", "sgd", steps=5, start=(1, 2, 3))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="steps must be a positive integer"):
            run_playground("booth", "sgd", steps=bad)
    with pytest.raises(ValueError, match="outside the divergence box"):
        run_playground("booth", "sgd", steps=5, start=(1e6, 0))
    with pytest.raises(ValueError, match="noise"):
        run_playground("booth", "sgd", steps=5, noise=-1)
    with pytest.raises(ValueError, match="either one lr for everyone or tune"):
        run_playground("booth", "sgd", steps=5, lr=0.1, tune=True)
    with pytest.raises(ValueError, match="unknown optimizers"):
        run_playground("booth", "sgd", steps=5, lr={"adam": 0.1})
    with pytest.raises(ValueError, match="needs a target"):
        run_playground(expression("x**2 + y**2"), "sgd", steps=5, criterion="steps")
    with pytest.raises(ValueError, match="labels must be unique"):
        parse_optimizers("sgd,sgd")
    with pytest.raises(ValueError, match="by name"):
        parse_optimizers("sgd(0.1)")
    with pytest.raises(ValueError, match="malformed"):
        parse_optimizers("sgd,,adam(")


def test_optimizer_spec_parsing():
    choices = parse_optimizers("sgd, momentum(lr=0.05, dampening=0.1), adam(betas=(0.8, 0.99))")
    assert [c.name for c in choices] == ["sgd", "momentum", "adam"]
    assert choices[1].hyper == {"lr": 0.05, "dampening": 0.1}
    assert choices[2].hyper == {"betas": (0.8, 0.99)}
    res = run_playground("booth", choices, steps=5, lr=0.01)
    assert res.table[1]["lr"] == 0.05 and res.table[1]["lr_source"] == "given"
    assert res.table[0]["lr"] == 0.01


# ------------------------------------------------------------------------------ outputs
def test_outputs_are_valid_files(tmp_path):
    from PIL import Image

    res = run_playground("himmelblau", "sgd,rmsprop,adam", steps=60, lr=0.01)
    paths = res.save(tmp_path, animate=True)
    for key in ("contour_png", "loss_png"):
        with Image.open(paths[key]) as im:
            im.verify()
        with Image.open(paths[key]) as im:
            assert im.format == "PNG" and im.size[0] > 400
    with Image.open(paths["animation"]) as im:
        assert im.format == "GIF" and im.n_frames > 10
    for key in ("contour_svg", "loss_svg"):
        root = ET.parse(paths[key]).getroot()
        assert root.tag.endswith("svg")
    rows = list(csv.DictReader(paths["table_csv"].open()))
    assert [r["optimizer"] for r in rows] == ["sgd", "rmsprop", "adam"]
    data = json.loads(paths["results_json"].read_text())
    assert len(data["table"]) == 3 and data["settings"]["function"] == "himmelblau"
    assert len(data["runs"]["adam"][0]["positions"]) == 61


def test_html_animation_and_figures_for_notebooks(tmp_path):
    from descentlab.lab import plots

    res = run_playground("saddle", "sgd,rmsprop", steps=30, lr="default", noise=0.1, seeds=2)
    path = plots.save_animation(res, tmp_path / "anim.html")
    text = path.read_text()
    assert "<canvas" in text and "data:image/png;base64," in text
    figs = res.figures()
    assert set(figs) == {"contour", "loss"}
    assert figs["loss"].axes[0].get_yscale() == "symlog"  # the saddle has no f*
    import matplotlib.pyplot as plt

    for fig in figs.values():
        plt.close(fig)
    with pytest.raises(ValueError, match="gif or html"):
        plots.save_animation(res, tmp_path / "anim.mp4")


def test_diverged_run_still_plots(tmp_path):
    from PIL import Image

    res = run_playground("rosenbrock", "sgd(lr=0.5),adam(lr=0.05)", steps=30)
    paths = res.save(tmp_path, formats=("png",))
    with Image.open(paths["contour_png"]) as im:
        im.verify()
    assert "diverged" in res.format_table()


def test_import_stays_numpy_only():
    code = (
        "import sys, descentlab.lab, descentlab.cli; "
        "bad = [m for m in ('matplotlib', 'PIL', 'torch', 'scipy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "module",
    ["descentlab.lab", "descentlab.lab.functions", "descentlab.lab.playground",
     "descentlab.lab.plots"],
)  # fmt: skip
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted > 0


def test_transform_text_is_parsed_safely():
    from descentlab.lab.playground import parse_transform

    choice = parse_transform("heavy = chain(trace(momentum=0.9), scale_by_learning_rate())")
    assert choice.label == "heavy" and choice.transform is not None
    res = run_playground("booth", [choice, "momentum"], steps=30, lr=1e-3)
    np.testing.assert_allclose(res.runs["heavy"][0].positions, res.runs["momentum"][0].positions)
    nested = parse_transform("acc=skip_nonfinite(chain(clip_by_global_norm(1.0), scale(-0.1)))")
    assert nested.transform is not None
    for bad, message in [
        ("x=__import__('os').system('true')", "not a call of a transformation"),
        ("x=chain(trace(0.9), scale_by_adamm())", "did you mean 'scale_by_adam'"),
        ("x=trace(momentum=foo)", "must be a literal"),
        ("chain(trace(0.9))", "LABEL=EXPR"),
        ("x=trace(0.9", "malformed"),
        ("x=trace(nope=1)", "trace"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_transform(bad)


def test_landing_exactly_on_ackleys_cone_tip_is_not_divergence():
    s = get_function("ackley")
    assert np.all(np.isfinite(s.gradient((0.0, 0.0))))
    res = run_playground("ackley", "sgd", steps=3, lr=0.1, start=(0.0, 0.0))
    assert res.table[0]["status"] == "reached" and res.table[0]["final_f"] == 0.0
