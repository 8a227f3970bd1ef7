"""Exact resume: a training process killed with SIGKILL mid-epoch, restarted with `resume_from` on
its last checkpoint, ends bit-identical to a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn
from descentlab.train import (
    LearningRateScheduler,
    ModelCheckpoint,
    fit,
)

EPOCHS = 6
KILL_EPOCH, KILL_BATCH = 3, 4  # 0-based: the 4th epoch, after its 5th update

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    import descentlab as dl
    from descentlab import nn
    from descentlab.train import (CSVLogger, EarlyStopping, GradientMonitor, LambdaCallback,
                                  ModelCheckpoint, ReduceLROnPlateau, fit)

    workdir, mode = Path(sys.argv[1]), sys.argv[2]   # mode: full | killed | resume
    ckpt = workdir / "last.safetensors"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1).astype(np.int64)
    dl.manual_seed(1)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    opt = dl.optim.get("adam", model.parameters(), lr=0.01)
    state = {"epoch": 0}

    def hang(batch, logs):
        if mode == "killed" and state["epoch"] == %(kill_epoch)d and batch == %(kill_batch)d:
            (workdir / "ready").write_text("mid-epoch")
            time.sleep(120)   # the test kills us with SIGKILL here

    callbacks = [
        ModelCheckpoint(ckpt),
        ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=0.15),
        EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True),
        CSVLogger(workdir / f"log-{mode}.csv"),
        GradientMonitor(),
        LambdaCallback(on_epoch_begin=lambda e, logs: state.update(epoch=e),
                       on_train_batch_end=hang),
    ]
    history = fit(model, x, y, loss="cross_entropy", optimizer=opt, batch_size=16,
                  epochs=%(epochs)d, validation_split=0.25, metrics=["accuracy"],
                  callbacks=callbacks, verbose=0, seed=7,
                  resume_from=ckpt if mode == "resume" else None)
    np.savez(workdir / f"weights-{mode}.npz", **model.state_dict())
    (workdir / f"history-{mode}.json").write_text(json.dumps(history.history))
    (workdir / f"optim-{mode}.json").write_text(
        json.dumps(opt.state_dict()["state"], default=lambda a: np.asarray(a).tolist()))
    """
) % {"kill_epoch": KILL_EPOCH, "kill_batch": KILL_BATCH, "epochs": EPOCHS}


# One BLAS thread: fast on a busy machine, and the same summation order in every process.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run(script: Path, workdir: Path, mode: str) -> None:
    proc = subprocess.run([sys.executable, str(script), str(workdir), mode], capture_output=True,
                          text=True, timeout=120, env=ENV)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    full, broken = tmp_path / "full", tmp_path / "broken"
    full.mkdir()
    broken.mkdir()
    run(script, full, "full")

    victim = subprocess.Popen([sys.executable, str(script), str(broken), "killed"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (broken / "ready").exists():
        assert victim.poll() is None, victim.stderr.read().decode()
        assert time.monotonic() < deadline, "the training script never reached the kill point"
        time.sleep(0.02)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    victim.stderr.close()

    # the checkpoint is the one written at the end of the last complete epoch, and is whole
    info = dl.io.read_checkpoint(broken / "last.safetensors")
    assert info["epoch"] == KILL_EPOCH
    assert len(info["history"]["epoch"]) == KILL_EPOCH
    assert not list(broken.glob(".*.tmp"))

    run(script, broken, "resume")
    expected = np.load(full / "weights-full.npz")
    got = np.load(broken / "weights-resume.npz")
    assert sorted(expected.files) == sorted(got.files)
    for key in expected.files:
        assert expected[key].tobytes() == got[key].tobytes(), f"{key} differs after resume"
    assert (full / "history-full.json").read_text() == (broken / "history-resume.json").read_text()
    assert (full / "optim-full.json").read_text() == (broken / "optim-resume.json").read_text()
    assert (full / "log-full.csv").read_text() == (broken / "log-resume.csv").read_text()
    history = json.loads((full / "history-full.json").read_text())
    assert len(history["loss"]) == EPOCHS and min(history["lr"]) < 0.01  # the LR callback acted


def test_resume_in_process_with_scheduler_object_matches(tmp_path):
    """Same guarantee without a subprocess: 2 epochs + resume for 2 == 4 epochs straight."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.int64)

    def setup():
        dl.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.1), nn.Linear(8, 2))
        opt = dl.optim.get("sgd", model.parameters(), lr=0.1, momentum=0.9)
        sched = dl.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        return (
            model,
            opt,
            [LearningRateScheduler(sched), ModelCheckpoint(tmp_path / "c.safetensors")],
        )

    def train(model, opt, cbs, epochs, resume=None):
        return fit(model, x, y, loss="cross_entropy", optimizer=opt, batch_size=10, epochs=epochs,
                   callbacks=cbs, verbose=0, seed=5, resume_from=resume)  # fmt: skip

    model, opt, cbs = setup()
    straight = train(model, opt, cbs, 4)
    reference = {k: v.copy() for k, v in model.state_dict().items()}

    model, opt, cbs = setup()
    train(model, opt, cbs, 2)
    model, opt, cbs = setup()  # a fresh process would rebuild everything, then resume
    dl.manual_seed(12345)  # whatever happened to the global generator since is overwritten
    resumed = train(model, opt, cbs, 4, resume=tmp_path / "c.safetensors")
    assert resumed.history == straight.history and resumed.epoch == [0, 1, 2, 3]
    assert resumed.history["lr"] == pytest.approx([0.1, 0.07, 0.049, 0.0343])
    for k, v in reference.items():
        assert model.state_dict()[k].tobytes() == v.tobytes()


def test_resume_errors(tmp_path):
    x = np.zeros((8, 2), np.float32)
    y = np.zeros(8, np.int64)
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        fit(model, x, y, loss="cross_entropy", optimizer="sgd", verbose=0,
            resume_from=tmp_path / "missing.safetensors")  # fmt: skip
    dl.save(model, tmp_path / "weights.safetensors")
    with pytest.raises(dl.io.LoadError, match="model file"):
        fit(model, x, y, loss="cross_entropy", optimizer="sgd", verbose=0,
            resume_from=tmp_path / "weights.safetensors")  # fmt: skip
    fit(model, x, y, loss="cross_entropy", optimizer="sgd", verbose=0, epochs=1,
        callbacks=[ModelCheckpoint(tmp_path / "c.safetensors")])  # fmt: skip
    other = nn.Sequential(nn.Linear(2, 3))
    before = other[0].weight.data.copy()
    with pytest.raises(dl.io.LoadError, match="does not fit"):
        fit(other, x, y, loss="cross_entropy", optimizer="sgd", verbose=0,
            resume_from=tmp_path / "c.safetensors")  # fmt: skip
    np.testing.assert_array_equal(other[0].weight.data, before)
    with (
        pytest.warns(UserWarning, match="batch_size=32, this run has 4"),
        pytest.warns(UserWarning, match="callbacks \\['0:ModelCheckpoint'\\]"),
    ):
        fit(model, x, y, loss="cross_entropy", optimizer="sgd", verbose=0, epochs=2,
            batch_size=4, resume_from=tmp_path / "c.safetensors")  # fmt: skip


@pytest.mark.parametrize("owner", ["loader", "sampler"])
def test_resume_restores_a_dataloader_own_generator(tmp_path, owner):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def setup():
        dl.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))
        order: dict = {"shuffle": True, "generator": np.random.default_rng(9)}
        if owner == "sampler":  # a WeightedRandomSampler's own generator is saved too
            weights = np.where(y == 1, 1.0, 3.0)
            order = {
                "sampler": dl.data.WeightedRandomSampler(
                    weights, 40, generator=np.random.default_rng(9)
                )
            }
        loader = dl.data.DataLoader(dl.data.TensorDataset(x, y), batch_size=8, **order)
        opt = dl.optim.get("adam", model.parameters(), lr=0.05)
        return model, loader, opt

    def train(model, loader, opt, epochs, resume=None):
        cb = [ModelCheckpoint(tmp_path / "c.safetensors")]
        return fit(model, loader, loss="cross_entropy", optimizer=opt, epochs=epochs,
                   callbacks=cb, verbose=0, resume_from=resume)  # fmt: skip

    model, loader, opt = setup()
    straight = train(model, loader, opt, 3)
    reference = model.state_dict()
    model, loader, opt = setup()
    train(model, loader, opt, 1)
    model, loader, opt = setup()  # the loader's (sampler's) generator starts again from seed 9
    resumed = train(model, loader, opt, 3, resume=tmp_path / "c.safetensors")  # and is restored
    assert resumed.history == straight.history
    for k, v in reference.items():
        assert model.state_dict()[k].tobytes() == v.tobytes()
