"""descentlab vs PyTorch (CPU): forward + backward of a 784-256-128-10 ReLU MLP.

One training step's gradient work: logits = MLP(x), loss = mean softmax cross-entropy(logits, y),
loss.backward() filling every weight's and bias's `.grad` (set to None before each step, as
`zero_grad()` does in both libraries). Both libraries run in the same process, on the same inputs
and the same weights, with their default thread settings; each batch size is timed as the median of
many repetitions after a warm-up, alternating the two libraries in blocks so that machine noise
hits both alike.

Run:
    .venv/bin/python benchmarks/bench_vs_torch.py [--reps 200] [--batches 32 128 1024]

Prints a markdown table; ratio = torch time / descentlab time (> 1 means descentlab is faster).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

SIZES = (784, 256, 128, 10)


def make_weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch-default-like U(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights (out, in) and biases."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        bound = 1 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def descentlab_step(weights, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], float], list]:
    import descentlab as dl
    from descentlab import nn
    from descentlab.nn import functional as F

    linears = [nn.Linear(w.shape[1], w.shape[0]) for w, _ in weights]
    for layer, (w, b) in zip(linears, weights):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    model = nn.Sequential(linears[0], nn.ReLU(), linears[1], nn.ReLU(), linears[2])
    params = list(model.parameters())
    xt = dl.tensor(x)

    def step() -> float:
        for p in params:
            p.grad = None
        loss = F.cross_entropy(model(xt), y)
        loss.backward()
        return loss.item()

    return step, params


def torch_step(weights, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], float], list]:
    import torch

    linears = [torch.nn.Linear(w.shape[1], w.shape[0]) for w, _ in weights]
    with torch.no_grad():
        for layer, (w, b) in zip(linears, weights):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(
        linears[0], torch.nn.ReLU(), linears[1], torch.nn.ReLU(), linears[2]
    )
    params = list(model.parameters())
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        return loss.item()

    return step, params


def time_blocks(steps: dict[str, Callable[[], float]], reps: int, block: int = 10) -> dict:
    """Median seconds per call of each step, interleaving the libraries block by block."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(max(1, reps // block)):
        for name, step in steps.items():
            for _ in range(block):
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="timed repetitions per library")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 1024])
    args = parser.parse_args()

    import torch

    weights = make_weights()
    rng = np.random.default_rng(1)
    rows = []
    for n in args.batches:
        x = rng.standard_normal((n, SIZES[0])).astype(np.float32)
        y = rng.integers(0, SIZES[-1], n).astype(np.int64)
        ours, our_params = descentlab_step(weights, x, y)
        theirs, their_params = torch_step(weights, x, y)
        # Same inputs, same weights: the losses and gradients must agree before timing means anything.
        loss_ours, loss_theirs = ours(), theirs()
        np.testing.assert_allclose(loss_ours, loss_theirs, rtol=1e-4)
        for p, q in zip(our_params, their_params):
            np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-3, atol=1e-5)
        for _ in range(args.warmup):
            ours()
            theirs()
        med = time_blocks({"descentlab": ours, "torch": theirs}, args.reps)
        rows.append((n, med["descentlab"], med["torch"]))

    print(
        f"forward+backward, 784-256-128-10 ReLU MLP, cross-entropy; median of {args.reps} reps; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print("| batch | descentlab (ms) | PyTorch (ms) | ratio torch/descentlab |")
    print("|------:|----------------:|-------------:|-----------------------:|")
    for n, ours_t, torch_t in rows:
        print(f"| {n} | {ours_t * 1e3:.3f} | {torch_t * 1e3:.3f} | {torch_t / ours_t:.2f} |")


if __name__ == "__main__":
    main()
