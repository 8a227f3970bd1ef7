"""`make demo` runs examples/demo.py: it must finish, reach the accuracy it prints and write its outputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


@pytest.mark.slow
def test_demo_trains_digits_and_runs_the_playground(tmp_path: Path) -> None:
    # one BLAS thread: the demo's matrices are small and a busy 2-core CI box thrashes otherwise
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(DEMO)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = re.search(r"test accuracy on 360 held-out digits: ([\d.]+)%", done.stdout)
    assert accuracy is not None, done.stdout[-2000:]
    assert float(accuracy.group(1)) >= 95.0
    out = tmp_path / "demo-output"
    for name in ["model.safetensors", "best.safetensors", "checkpoint.safetensors",
                 "history.csv", "history.png"]:  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    for name in ["contour.png", "loss.png", "trajectories.gif", "table.csv", "results.json"]:
        assert (out / "playground" / name).stat().st_size > 0, name
    table = (out / "playground" / "table.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in table[1:]] == [
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"
    ]  # fmt: skip
    assert f"{out.resolve()}/" in done.stdout  # says where the output is
