"""One optimizer step: descentlab.optim vs torch.optim (default settings) on the same machine, same run.

torch's defaults on CPU tensors are the per-tensor loop (foreach=False, fused=False), each op
running on torch's intra-op threads. Adam, SGD with momentum 0.9 and RMSprop over 1M and 10M
float32 parameters split into 4 and 40 tensors. Each configuration is timed as the median (or, with
`--stat min`, the minimum) of `--reps` steps after a 12-step warm-up, alternating the two libraries in
blocks so that machine noise hits both alike; each block starts with ~30 ms of untimed steps
(torch's OpenMP workers spin after its last op and slow the next block's threads for ~15 ms, see
SETTLE). Gradients are fixed random arrays.

The floor is memory bandwidth: a step must at least read the parameters, gradients and optimizer
state and write back the parameters and state (Adam: read p, g, m, v and write p, m, v = 7 x 4
bytes per parameter; SGD momentum and RMSprop: 5 x 4 bytes). floor = bytes / bandwidth, the
bandwidth measured with an in-place `a += b` (`stream_bandwidth`) whose two arrays together are as
large as the step's arrays: a 1M-parameter step, whose arrays stay in the last-level cache from one
step to the next, is held to the cache's bandwidth, a 10M one to memory's.

`--isolate` runs each library in a process of its own (the blocks still alternate). Measured on
2026-11-29 against the default (both in one process): the same ratios within this VM's noise for
SGD with momentum on 1M x 4 (torch/ours 0.87-1.08 isolated; 0.92 in two of three in-process
runs), while torch's Adam went bimodal in a process of its own (0.79 or 2.2-2.4 ms, against
1.0-1.2 in-process; plausibly its allocator's state in a fresh process). The README's tables are
in-process, as a training script runs. Later that day, with 30 ms of settling and RMSprop handed
too, two isolated runs of the 1M x 4 rows gave SGD with momentum 0.87 (our tuner kept the
one-thread step, 0.22 ms) and RMSprop 0.97-1.04, against 0.98-1.09 and 0.91-1.14 in-process.

Run:
    .venv/bin/python benchmarks/bench_optim.py [--reps 20] [--sizes 1000000 10000000] [--tensors 4 40]
        [--torch-threads N] [--stat median|min] [--isolate] [--settle SECONDS]

Prints a markdown table; ratio = torch time / descentlab time (> 1 means descentlab is faster).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

STAT = "median"

# bytes moved per parameter per step: (reads + writes) x 4 bytes
TRAFFIC = {"adam": 7 * 4, "sgd_momentum": 5 * 4, "rmsprop": 5 * 4}


# arrays a step reads or writes (Adam: p, g, m, v; SGD with momentum: p, g, buf; RMSprop: p, g, v)
ARRAYS = {"adam": 4, "sgd_momentum": 3, "rmsprop": 3}


@functools.lru_cache
def stream_bandwidth(n: int = 10_000_000, reps: int = 20) -> float:
    """Bytes per second of `a += b` over n float32 (2 reads + 1 write counted), on one thread or
    split across all cores, whichever is faster (torch steps use every core).

    An in-place pass, as every pass of an optimizer step is: a copy into a fresh destination
    also reads that destination before writing it (read for ownership), which its byte count
    leaves out, so a copy's bandwidth would put the floor above steps that really run.
    """
    from concurrent.futures import ThreadPoolExecutor

    a = np.ones(n, np.float32)
    b = np.ones_like(a)
    np.add(a, b, out=a)
    workers = os.cpu_count() or 1
    cuts = np.linspace(0, n, workers + 1).astype(int)
    parts = [(a[i:j], b[i:j]) for i, j in zip(cuts[:-1], cuts[1:])]
    times = []
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(reps):
            t = time.perf_counter()
            np.add(a, b, out=a)
            times.append(time.perf_counter() - t)
            t = time.perf_counter()
            list(pool.map(lambda pair: np.add(*pair, out=pair[0]), parts))
            times.append(time.perf_counter() - t)
    return 3 * a.nbytes / min(times)


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


# torch's OpenMP workers keep spinning after its last parallel op (libgomp's default wait policy),
# on the cores the next block wants, and a block's first step finds the caches full of the other
# library's arrays: each block first runs SETTLE seconds of untimed steps. (Sleeping instead would
# leave the cores idle, and this VM wakes an idle core slowly.) Measured on 2026-11-29 (SGD with
# momentum, 1M x 4, our two-thread "handed" step, median over 60 rounds after 20 torch steps):
# 0.93 ms in the first 2 ms after torch's last step, 0.28 at 2-5 ms, 0.25 at 5-10, 0.21 at 10-15,
# and 0.205 from 15 ms on, as in a loop without torch. So 30 ms: 15 ms (the value until then) left
# every block of a 0.2 ms step inside torch's wake, and our threads losing there.
SETTLE = 0.03


def summarize(times: dict[str, list[float]]) -> dict[str, float]:
    """Each library's step time: the median of its samples, or with `--stat min` the minimum."""
    pick = min if STAT == "min" else statistics.median
    return {k: pick(v) for k, v in times.items()}


def median_time(fns: dict[str, Callable[[], None]], reps: int, block: int = 5) -> dict[str, float]:
    for fn in fns.values():  # warm-up: creates optimizer state, pages in buffers, and lets
        for _ in range(12):  # descentlab time its ways of stepping (see _Tuner)
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(0, reps, block):
        for name, fn in fns.items():
            times[name] += timed_block(fn, SETTLE, block)
    return summarize(times)


class Isolated:
    """One library's step in a process of its own, timed in blocks on request (`--isolate`), so
    that neither library shares an interpreter, an allocator or thread pools with the other; the
    blocks still alternate, so machine noise hits both alike."""

    def __init__(self, name: str, kind: str, sizes: list[int], torch_threads: int) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child, name, kind, sizes, torch_threads), daemon=True
        )
        self.process.start()
        child.close()  # this end lives in the child: if it dies, recv() then raises EOFError
        self.conn.recv()  # built and warmed up

    def block(self, settle: float, block: int) -> list[float]:
        self.conn.send((settle, block))
        return self.conn.recv()

    def close(self) -> None:
        if self.process.is_alive():
            self.conn.send(None)
        self.process.join()


def _serve(conn, name: str, kind: str, sizes: list[int], torch_threads: int) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    if name == "torch":
        import torch

        if torch_threads:
            torch.set_num_threads(torch_threads)
        fn = make_torch(kind, sizes, rng)
    else:
        for _ in range(2 if name == "ours" else 4):  # the draws the libraries before it took
            [rng.standard_normal(n) for n in sizes]
        fn = make_ours(kind, sizes, rng, flat=name == "flat")
    for _ in range(12):
        fn()
    conn.send(None)
    while (request := conn.recv()) is not None:
        conn.send(timed_block(fn, *request))


def timed_block(fn: Callable[[], None], settle: float, block: int) -> list[float]:
    """`settle` seconds of untimed steps, then `block` timed ones."""
    settled = time.perf_counter() + settle
    fn()
    while time.perf_counter() < settled:
        fn()
    times = []
    for _ in range(block):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def isolated_time(kind: str, sizes: list[int], reps: int, torch_threads: int,
                  block: int = 5) -> dict[str, float]:  # fmt: skip
    workers: dict[str, Isolated] = {}
    times: dict[str, list[float]] = {name: [] for name in ("torch", "ours", "flat")}
    try:
        for name in times:
            workers[name] = Isolated(name, kind, sizes, torch_threads)
        for _ in range(0, reps, block):
            for name, worker in workers.items():
                times[name] += worker.block(SETTLE, block)
    finally:
        for worker in workers.values():
            worker.close()
    return summarize(times)


def main() -> None:
    global STAT, SETTLE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--tensors", type=int, nargs="+", default=[4, 40])
    parser.add_argument("--kinds", nargs="+", default=list(TRAFFIC))
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--isolate", action="store_true",
                        help="each library in a process of its own (blocks still alternate)")  # fmt: skip
    parser.add_argument("--stat", choices=["median", "min"], default="median",
                        help="min is steadier on a shared, loaded machine")  # fmt: skip
    parser.add_argument("--settle", type=float, default=0.03,
                        help="seconds of untimed steps before each block (see SETTLE)")  # fmt: skip
    args = parser.parse_args()
    STAT, SETTLE = args.stat, args.settle

    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    bw = stream_bandwidth()  # 80 MB: memory's bandwidth, for the header
    print(f"# {platform.processor() or platform.machine()}, numpy {np.__version__}, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"memory bandwidth (a += b) {bw / 1e9:.1f} GB/s, {args.stat} of {args.reps} steps\n")  # fmt: skip
    print("| optimizer | params | tensors | torch ms | ours ms | ours flat ms | ratio torch/ours "
          "| ratio torch/flat | floor ms | flat / floor |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind in args.kinds:
        for total in args.sizes:
            for parts in args.tensors:
                sizes = split(total, parts)
                rng = np.random.default_rng(0)
                if args.isolate:
                    t = isolated_time(kind, sizes, args.reps, args.torch_threads)
                else:
                    fns = {"torch": make_torch(kind, sizes, rng),
                           "ours": make_ours(kind, sizes, rng, flat=False),
                           "flat": make_ours(kind, sizes, rng, flat=True)}  # fmt: skip
                    t = median_time(fns, args.reps)
                    del fns
                floor = TRAFFIC[kind] * total / stream_bandwidth(total * ARRAYS[kind] // 2)
                print(f"| {kind} | {total / 1e6:g}M | {parts} | {t['torch'] * 1e3:.2f} | "
                      f"{t['ours'] * 1e3:.2f} | {t['flat'] * 1e3:.2f} | "
                      f"{t['torch'] / t['ours']:.2f} | {t['torch'] / t['flat']:.2f} | "
                      f"{floor * 1e3:.2f} | {t['flat'] / floor:.1f}x |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
