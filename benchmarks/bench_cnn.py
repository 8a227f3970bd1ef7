"""descentlab vs PyTorch (CPU): forward + backward of a small MNIST-style CNN.

Model (both libraries, same weights): conv 1->32 3x3 pad 1, ReLU, maxpool 2, conv 32->64 3x3 pad 1,
ReLU, maxpool 2, flatten, linear 3136->128, ReLU, linear 128->10; loss = mean softmax
cross-entropy; one step = zero the grads, forward, backward. Inputs are (batch, 1, 28, 28) float32.
Both libraries run in the same process on the same data with their default thread settings; each
is timed as the median of many repetitions after a warm-up, alternating the libraries in blocks
so that machine noise hits both alike (the spread of the single steps is printed too). Losses and
gradients are checked to agree first. Each library runs the model its own way: descentlab's
Sequential, for one, applies a ReLU that precedes a max-pool after the pool (same values and
gradients, a quarter of the work); PyTorch runs the modules in order.

Run:
    .venv/bin/python benchmarks/bench_cnn.py [--reps 100] [--batches 64] [--threads 1]

`--threads 1` pins both libraries to one core: the most repeatable comparison on a shared machine
(with several threads, other load on the machine slows whichever library spins more).

Prints a markdown table; ratio = torch time / descentlab time (> 1 means descentlab is faster).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def build(nn: Any) -> Any:
    """The benchmark CNN from `nn` (descentlab.nn or torch.nn): same layers, same names."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip


def torch_step(x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], float], Any]:
    import torch

    torch.manual_seed(0)
    model = build(torch.nn)
    params = list(model.parameters())
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        for p in params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        return loss.item()

    return step, model


def descentlab_step(
    x: np.ndarray, y: np.ndarray, torch_model: Any
) -> tuple[Callable[[], float], Any]:
    import descentlab as dl
    from descentlab import nn
    from descentlab.nn import functional as F

    model = build(nn)
    model.load_state_dict(torch_model.state_dict())  # the very same weights
    params = list(model.parameters())
    xt = dl.tensor(x)

    def step() -> float:
        for p in params:
            p.grad = None
        loss = F.cross_entropy(model(xt), y)
        loss.backward()
        return loss.item()

    return step, model


def time_blocks(steps: dict[str, Callable[[], float]], reps: int, block: int = 5) -> dict:
    """Seconds of every call of each step, interleaving the libraries block by block."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(max(1, reps // block)):
        for name, step in steps.items():
            for _ in range(block):
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
    return times


def quartiles(ts: list[float]) -> tuple[float, float, float]:
    """25th, 50th and 75th percentiles of `ts`."""
    q1, q2, q3 = statistics.quantiles(ts, n=4)
    return q1, q2, q3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100, help="timed repetitions per library")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batches", type=int, nargs="+", default=[64])
    parser.add_argument(
        "--threads", type=int, default=None,
        help="limit both libraries to this many threads (NumPy's BLAS through threadpoolctl, "
        "descentlab.optim.set_num_threads)",
    )  # fmt: skip
    args = parser.parse_args()

    import torch

    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        torch.set_num_threads(args.threads)
        # descentlab's own threads (large optimizer steps; none run in this benchmark's step
        # today) follow too, so that the flag keeps meaning "both libraries on this many cores".
        import descentlab as dl

        dl.optim.set_num_threads(args.threads)

    rng = np.random.default_rng(1)
    rows = []
    for n in args.batches:
        x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, n).astype(np.int64)
        theirs, torch_model = torch_step(x, y)
        ours, our_model = descentlab_step(x, y, torch_model)
        # Same inputs, same weights: losses and gradients must agree before timing means anything.
        np.testing.assert_allclose(ours(), theirs(), rtol=1e-4)
        tgrads = {k: p.grad.numpy() for k, p in torch_model.named_parameters()}
        for k, p in our_model.named_parameters():
            np.testing.assert_allclose(p.grad, tgrads[k], rtol=1e-3, atol=1e-5, err_msg=k)
        for _ in range(args.warmup):
            ours()
            theirs()
        times = time_blocks({"descentlab": ours, "torch": theirs}, args.reps)
        rows.append((n, quartiles(times["descentlab"]), quartiles(times["torch"])))

    print(
        f"forward+backward, CNN conv32-pool-conv64-pool-fc128-fc10 on 28x28, cross-entropy; median "
        f"of {args.reps} reps; torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
        f"{np.__version__}, {platform.machine()} {platform.processor() or ''}".rstrip()
    )
    print()
    print("| batch | descentlab (ms) | PyTorch (ms) | ratio torch/descentlab |")
    print("|------:|----------------:|-------------:|-----------------------:|")
    for n, ours_q, torch_q in rows:
        print(
            f"| {n} | {ours_q[1] * 1e3:.2f} | {torch_q[1] * 1e3:.2f} | {torch_q[1] / ours_q[1]:.2f} |"
        )
    print()
    print("Spread of the single steps (25th-75th percentile, ms); timings on a shared machine move")
    print("by 10-30% from run to run, so compare ratios over several runs:")
    for n, ours_q, torch_q in rows:
        print(
            f"  batch {n}: descentlab {ours_q[0] * 1e3:.2f}-{ours_q[2] * 1e3:.2f}, "
            f"PyTorch {torch_q[0] * 1e3:.2f}-{torch_q[2] * 1e3:.2f}"
        )


if __name__ == "__main__":
    main()
