"""The `descentlab` command: playground and list, outputs and clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from descentlab.cli import main
from descentlab.lab import FUNCTIONS


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_list_functions_and_optimizers(capsys):
    rc, out, _ = _run(capsys, "list", "functions")
    assert rc == 0
    for name in FUNCTIONS:
        assert name in out
    assert "expr" in out and "global minima" in out
    rc, out, _ = _run(capsys, "list", "optimizers")
    assert rc == 0
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lbfgs"):
        assert f"\n{name} " in out
    for name in ("keras.sgd", "keras.adam", "keras.rmsprop", "keras.ftrl"):  # the Keras facade's
        assert f"\n{name} " in out and "keras  Keras" in out


def test_playground_writes_and_reports_outputs(capsys, tmp_path):
    from PIL import Image

    out_dir = tmp_path / "q"
    rc, out, err = _run(
        capsys, "playground", "--function", "quadratic:condition=20", "--optimizers",
        "sgd,momentum,adam(lr=0.05)", "--steps", "80", "--lr", "0.02", "--animate",
        "--out", str(out_dir),
    )  # fmt: skip
    assert rc == 0, err
    assert "wrote 7 files" in out and str(out_dir) in out
    for name in ("contour.png", "contour.svg", "loss.png", "loss.svg", "trajectories.gif",
                 "table.csv", "results.json"):  # fmt: skip
        assert (out_dir / name).is_file()
        assert str(out_dir / name) in out
    with Image.open(out_dir / "contour.png") as im:
        im.verify()
    rows = list(csv.DictReader((out_dir / "table.csv").open()))
    assert [r["optimizer"] for r in rows] == ["sgd", "momentum", "adam(lr=0.05)"]
    assert [float(r["lr"]) for r in rows] == [0.02, 0.02, 0.05]
    settings = json.loads((out_dir / "results.json").read_text())["settings"]
    assert settings["function_params"] == {"condition": 20.0, "angle": 0.0}
    assert settings["steps"] == 80 and settings["tuned"] is False


def test_bare_playground_is_a_tuned_picture_of_the_six_classics(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = _run(capsys, "playground", "--steps", "150", "--formats", "png")
    assert rc == 0, err
    folder = tmp_path / "descentlab-out" / "playground-rosenbrock"
    assert (folder / "contour.png").is_file() and not (folder / "contour.svg").exists()
    rows = list(csv.DictReader((folder / "table.csv").open()))
    assert [r["optimizer"] for r in rows] == [
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
    ]  # fmt: skip
    assert all(r["lr_source"] == "tuned" for r in rows)
    assert "lr tuned" in out and "rosenbrock" in out


def test_noise_seeds_clip_and_table_only(capsys, tmp_path):
    rc, out, err = _run(
        capsys, "playground", "-f", "booth", "-o", "sgd,rmsprop", "--steps", "30", "--lr",
        "sgd=0.01,rmsprop=0.1", "--noise", "0.5", "--seeds", "3", "--clip", "5", "--no-plots",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "table.csv"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["settings"]["seeds"] == [0, 1, 2] and data["settings"]["clip_norm"] == 5.0
    assert "clipped to L2 norm 5" in out and "noise std 0.5" in out
    assert all(len(v) == 3 for v in data["runs"].values())
    assert "rmsprop: lr 0.1 (given), 3 run(s)" in err  # progress goes to stderr


def test_expression_start_and_html_animation(capsys, tmp_path):
    rc, out, err = _run(
        capsys, "playground", "--expr", "(x - 1)**2 + 5*(y + 0.5)**2", "--range", "-2,2,-2,2",
        "-o", "sgd,adam", "--lr", "default", "--steps", "40", "--start", "-1.5,1.5",
        "--animate", "html", "--out", str(tmp_path),
    )  # fmt: skip
    assert rc == 0, err
    assert "(x - 1)**2" in out
    assert "<canvas" in (tmp_path / "trajectories.html").read_text()
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["settings"]["start"] == [-1.5, 1.5]


def test_tune_grid_and_criterion(capsys, tmp_path):
    rc, out, err = _run(
        capsys, "playground", "-f", "quadratic", "-o", "sgd", "--steps", "100", "--tune",
        "--lr-grid", "0.01,0.1", "--criterion", "steps", "--no-plots", "--out", str(tmp_path),
    )  # fmt: skip
    assert rc == 0, err
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["settings"]["lr_grid"] == [0.01, 0.1] and "steps" in data["settings"]["criterion"]
    assert data["table"][0]["lr"] == 0.1


def test_transform_contestants(capsys, tmp_path):
    rc, out, err = _run(
        capsys, "playground", "-f", "booth", "--transform",
        "heavy=chain(trace(momentum=0.9), scale_by_learning_rate())", "-t",
        "fixed=chain(scale_by_adam(), scale_by_learning_rate(0.1))", "--steps", "20",
        "--no-plots", "--lr-grid", "0.001,0.01", "--out", str(tmp_path),
    )  # fmt: skip
    assert rc == 0, err
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    assert [r["optimizer"] for r in rows] == ["heavy", "fixed"]  # only the transforms
    assert rows[0]["lr_source"] == "tuned" and rows[1]["lr_source"] == "in transform"
    rc, _, err = _run(capsys, "playground", "-t", "x=chain(os.system('true'))", "--steps", "5")
    assert rc == 2 and "not a call of a transformation" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--function", "rosenbrok"], "did you mean 'rosenbrock'"),
        (["--optimizers", "sgd,adamm"], "did you mean 'adam'"),
        (["--start", "1"], "start point '1' is malformed"),
        (["--start", "a,b"], "malformed"),
        (["--lr", "fast"], "--lr 'fast'"),
        (["--lr", "0.1", "--tune"], "exclude each other"),
        (["--lr-grid", "1:0.1:3"], "--lr-grid"),
        (["--function", "expr"], "needs a formula"),
        (["--expr", "import os"], "not a valid formula"),
        (["--range", "0,1,0,1"], "--expr only"),
        (["--formats", "jpg"], "--formats"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(capsys, tmp_path, argv, message):
    rc, _, err = _run(capsys, "playground", "--steps", "5", "--out", str(tmp_path), *argv)
    assert rc == 2
    assert message in err and err.startswith("descentlab: error:")
    assert not (tmp_path / "table.csv").exists()


@pytest.mark.parametrize("steps", ["0", "-5", "ten"])
def test_non_positive_step_budget_is_rejected_by_argparse(capsys, steps):
    with pytest.raises(SystemExit) as exc:
        main(["playground", "--steps", steps])
    assert exc.value.code == 2
    assert "--steps" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "playground" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["list", "things"])


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "descentlab.cli", "list", "functions"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "rosenbrock" in done.stdout
