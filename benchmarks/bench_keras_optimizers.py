"""One optimizer step of descentlab.keras.optimizers vs Keras 3 (torch backend, 1 thread), same run.

Run: .venv/bin/python benchmarks/bench_keras_optimizers.py
Prints a markdown table of median milliseconds per step and the ratio (lower is faster for us).
"""

from __future__ import annotations

import os
import time

import numpy as np


def bench(name: str, n: int, ntensors: int, reps: int = 20) -> tuple[float, float]:
    import keras
    import torch

    import descentlab as dl
    from descentlab.keras import optimizers as K

    rng = np.random.default_rng(0)
    shapes = [(n // ntensors,)] * ntensors
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    params = [dl.nn.Parameter(a.copy()) for a in init]
    ours = getattr(K, name)(learning_rate=1e-3, params=params)
    for p, g in zip(params, grads):
        p.grad = g
    variables = [keras.Variable(a.copy()) for a in init]
    theirs = getattr(keras.optimizers, name)(learning_rate=1e-3)
    tgrads = [torch.from_numpy(g) for g in grads]

    def median_ms(fn) -> float:
        for _ in range(12):  # warm-up; descentlab times its ways of stepping (see _Tuner)
            fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times) * 1e3)

    return median_ms(ours.step), median_ms(lambda: theirs.apply_gradients(zip(tgrads, variables)))


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import torch

    torch.set_num_threads(1)
    print("| optimizer | params | tensors | descentlab.keras ms | Keras 3 (torch) ms | ratio |")
    print("|---|---|---|---|---|---|")
    for name in ("Adam", "SGD", "RMSprop"):
        for n, k in ((1_000_000, 4), (1_000_000, 40)):
            ours, theirs = bench(name, n, k)
            print(f"| {name} | {n:,} | {k} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} |")


if __name__ == "__main__":
    main()
