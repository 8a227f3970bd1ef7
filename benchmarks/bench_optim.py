"""One optimizer step: descentlab.optim vs torch.optim (default settings) on the same machine, same run.

torch's defaults on CPU tensors are the per-tensor loop (foreach=False, fused=False), each op
running on torch's intra-op threads. Adam, SGD with momentum 0.9 and RMSprop over 1M and 10M
float32 parameters split into 4 and 40 tensors. Each configuration is timed as the median (or, with
`--stat min`, the minimum) of `--reps` steps after a 12-step warm-up, alternating the two libraries in
blocks so that machine noise hits both alike; each block starts with ~15 ms of untimed steps
(torch's OpenMP workers spin for ~10 ms after its last op and would take a core from the next
block).
Gradients are fixed random arrays.

The floor is memory bandwidth: a step must at least read the parameters, gradients and optimizer
state and write back the parameters and state (Adam: read p, g, m, v and write p, m, v = 7 x 4 bytes
per parameter; SGD momentum and RMSprop: 5 x 4 bytes). floor = bytes / copy bandwidth, where the copy
bandwidth is measured here with a 40 MB `np.copyto` on one thread or split over all cores, whichever
is faster (bytes read + written per second).

Run:
    .venv/bin/python benchmarks/bench_optim.py [--reps 20] [--sizes 1000000 10000000] [--tensors 4 40]
        [--torch-threads N] [--stat median|min]

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

STAT = "median"

# bytes moved per parameter per step: (reads + writes) x 4 bytes
TRAFFIC = {"adam": 7 * 4, "sgd_momentum": 5 * 4, "rmsprop": 5 * 4}


def copy_bandwidth(n: int = 10_000_000, reps: int = 20) -> float:
    """Bytes per second of a large float32 copy (read + write counted), on one thread or split
    across all cores (whichever is faster: torch steps use every core)."""
    from concurrent.futures import ThreadPoolExecutor

    a = np.ones(n, np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    workers = os.cpu_count() or 1
    cuts = np.linspace(0, n, workers + 1).astype(int)
    halves = [(b[i:j], a[i:j]) for i, j in zip(cuts[:-1], cuts[1:])]
    times = []
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(reps):
            t = time.perf_counter()
            np.copyto(b, a)
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            list(pool.map(lambda pair: np.copyto(*pair), halves))
            times.append(time.perf_counter() - t)
    return 2 * a.nbytes / min(times)


def split(total: int, parts: int) -> list[int]:
    base = total // parts
    return [base + (1 if i < total - base * parts else 0) for i in range(parts)]


def make_ours(
    kind: str, sizes: list[int], rng: np.random.Generator, flat: bool
) -> Callable[[], None]:
    import descentlab as dl
    from descentlab import optim

    params = [dl.nn.Parameter(rng.standard_normal(n).astype(np.float32)) for n in sizes]
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
    ctor = {"adam": lambda ps: optim.Adam(ps, lr=1e-3),
            "sgd_momentum": lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9),
            "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-3)}[kind]  # fmt: skip
    opt = ctor(params)
    if flat:
        opt.flatten()
    return opt.step


def make_torch(kind: str, sizes: list[int], rng: np.random.Generator) -> Callable[[], None]:
    import torch

    params = [torch.tensor(rng.standard_normal(n).astype(np.float32), requires_grad=True)
              for n in sizes]  # fmt: skip
    for p in params:
        p.grad = torch.tensor(rng.standard_normal(p.shape[0]).astype(np.float32))
    opt = {"adam": lambda ps: torch.optim.Adam(ps, lr=1e-3),
           "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9),
           "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=1e-3)}[kind](params)  # fmt: skip
    return opt.step


# torch's OpenMP workers keep spinning for about 10 ms after its last parallel op (libgomp's
# default wait policy), on the cores the next block wants, and a block's first step finds the
# caches full of the other library's arrays: each block first runs SETTLE seconds of untimed steps.
# (Sleeping instead would leave the cores idle, and this VM wakes an idle core slowly.)
SETTLE = 0.015


def median_time(fns: dict[str, Callable[[], None]], reps: int, block: int = 5) -> dict[str, float]:
    for fn in fns.values():  # warm-up: creates optimizer state, pages in buffers, and lets
        for _ in range(12):  # descentlab time its ways of stepping (see _Tuner)
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    done = 0
    while done < reps:
        for name, fn in fns.items():
            settled = time.perf_counter() + SETTLE
            fn()
            while time.perf_counter() < settled:
                fn()
            for _ in range(block):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        done += block
    pick = min if STAT == "min" else statistics.median
    return {k: pick(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--tensors", type=int, nargs="+", default=[4, 40])
    parser.add_argument("--kinds", nargs="+", default=list(TRAFFIC))
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="min is steadier on a shared, loaded machine")  # fmt: skip
    args = parser.parse_args()
    global STAT
    STAT = args.stat

    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    bw = copy_bandwidth()
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"copy bandwidth {bw / 1e9:.1f} GB/s, {args.stat} of {args.reps} steps\n")  # fmt: skip
    print("| optimizer | params | tensors | torch ms | ours ms | ours flat ms | ratio torch/ours "
          "| ratio torch/flat | floor ms | flat / floor |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        for total in args.sizes:
            for parts in args.tensors:
                sizes = split(total, parts)
                rng = np.random.default_rng(0)
                fns = {"torch": make_torch(kind, sizes, rng),
                       "ours": make_ours(kind, sizes, rng, flat=False),
                       "flat": make_ours(kind, sizes, rng, flat=True)}  # fmt: skip
                t = median_time(fns, args.reps)
                floor = TRAFFIC[kind] * total / bw
                print(f"| {kind} | {total / 1e6:g}M | {parts} | {t['torch'] * 1e3:.2f} | "
                      f"{t['ours'] * 1e3:.2f} | {t['flat'] * 1e3:.2f} | "
                      f"{t['torch'] / t['ours']:.2f} | {t['torch'] / t['flat']:.2f} | "
                      f"{floor * 1e3:.2f} | {t['flat'] / floor:.1f}x |", flush=True)  # fmt: skip
                del fns


if __name__ == "__main__":
    main()
