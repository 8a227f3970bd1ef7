"""make demo: train a small MLP on scikit-learn's bundled digits with descentlab's autograd engine."""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits

import descentlab as dl
from descentlab import nn
from descentlab.nn import functional as F


def main() -> None:
    dl.manual_seed(0)
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_test = len(x) // 5
    x_test, y_test, x_train, y_train = x[:n_test], y[:n_test], x[n_test:], y[n_test:]

    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))  # fmt: skip
    lr, batch_size, epochs = 0.1, 32, 30
    gen = np.random.default_rng(0)
    start = time.perf_counter()
    for epoch in range(epochs):
        perm = gen.permutation(len(x_train))
        for i in range(0, len(perm), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(model(dl.tensor(x_train[idx])), y_train[idx])
            model.zero_grad()
            loss.backward()
            with dl.no_grad():
                for p in model.parameters():
                    p.data -= lr * p.grad
        if epoch % 10 == 9:
            print(f"epoch {epoch + 1:3d}/{epochs}  last batch loss {loss.item():.4f}")
    with dl.no_grad():
        pred = model(dl.tensor(x_test)).argmax(axis=1).numpy()
    acc = (pred == y_test).mean()
    print(f"test accuracy on {n_test} held-out digits: {acc:.2%} "
          f"(trained in {time.perf_counter() - start:.1f}s)")  # fmt: skip


if __name__ == "__main__":
    main()
