"""make demo: train an MLP on the bundled digits, then compare the classic optimizers on Rosenbrock.

Part 1 trains through `descentlab.fit` with a progress bar and prints the held-out test accuracy;
it writes to demo-output/: the best weights (safetensors, loadable by PyTorch too), a resumable
checkpoint, the per-epoch log as CSV and the learning curves as PNG.
Part 2 is the lab's optimizer playground (the same as `descentlab playground`): SGD, Momentum,
Nesterov, AdaGrad, RMSProp and Adam from the same start with the same step budget and the same
tuned learning-rate grid; the table is printed and the pictures go to demo-output/playground/.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import descentlab as dl
from descentlab import nn
from descentlab.lab import run_playground
from descentlab.train import CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

OUT = Path("demo-output")


def main() -> None:
    digits = dl.data.load_digits()
    x_train, x_test, y_train, y_test = dl.data.train_test_split(
        digits.x, digits.y, test_size=0.2, stratify=digits.y, seed=0
    )
    scaler = dl.data.StandardScaler().fit(x_train)  # statistics of the training data only
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)

    dl.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )  # fmt: skip
    # dropout and decoupled weight decay (AdamW) against overfitting 1437 training images
    optimizer = dl.optim.get("adamw", model.parameters(), lr=1e-3, weight_decay=1e-2)
    OUT.mkdir(exist_ok=True)
    callbacks = [
        ModelCheckpoint(
            OUT / "best.safetensors",
            monitor="val_accuracy",
            save_best_only=True,
            save_weights_only=True,
        ),  # fmt: skip
        ModelCheckpoint(OUT / "checkpoint.safetensors"),  # full state: fit(..., resume_from=...)
        ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3),
        EarlyStopping(monitor="val_loss", patience=6, restore_best_weights=True),
        CSVLogger(OUT / "history.csv"),
    ]
    start = time.perf_counter()
    history = dl.fit(
        model, x_train, y_train, loss="cross_entropy", optimizer=optimizer, batch_size=32,
        epochs=25, validation_split=0.1, metrics=["accuracy"], callbacks=callbacks, seed=0,
    )  # fmt: skip
    took = time.perf_counter() - start

    scores = dl.evaluate(model, x_test, y_test, loss="cross_entropy", metrics=["accuracy"])
    history.plot(OUT / "history.png")
    dl.save(model, OUT / "model.safetensors", metadata={"test_accuracy": scores["accuracy"]})
    print(
        f"\ntest accuracy on {len(y_test)} held-out digits: {scores['accuracy']:.2%} "
        f"(loss {scores['loss']:.4f}; trained {len(history.epoch)} epochs in {took:.1f}s)"
    )
    print(f"outputs in {OUT.resolve()}/:")
    for name, what in [
        ("model.safetensors", "final weights (dl.load, or safetensors.torch.load_file)"),
        ("best.safetensors", "weights of the best validation epoch"),
        ("checkpoint.safetensors", "resumable checkpoint: fit(..., resume_from=this)"),
        ("history.csv", "per-epoch loss, accuracy, val_loss, val_accuracy, lr"),
        ("history.png", "training vs validation curves"),
    ]:
        print(f"  {name:<24} {what}")
    assert np.isfinite(scores["loss"])

    print("\nthe optimizer playground: six optimizers on Rosenbrock, 500 steps each, lr tuned")
    result = run_playground("rosenbrock")
    print(result.format_table())
    files = result.save(OUT / "playground", formats=("png",), animate="gif")
    print(f"playground outputs in {(OUT / 'playground').resolve()}/:")
    for path in files.values():
        print(f"  {Path(path).name}")


if __name__ == "__main__":
    main()
