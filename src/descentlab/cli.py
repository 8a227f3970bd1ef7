"""The `descentlab` command.

    descentlab playground [--function rosenbrock] [--optimizers sgd,momentum,adam] [--steps 500]
                          [--lr 0.01 | --lr sgd=0.01,adam=0.1 | --lr default] [--tune]
                          [--noise 0.1 --seeds 5] [--clip 10] [--start x,y] [--animate] --out DIR
                          [--transform 'mine=chain(trace(momentum=0.9), scale_by_learning_rate())']
    descentlab list functions|optimizers

`descentlab playground` alone runs the six classic optimizers on Rosenbrock for 500 steps, each
with its learning rate tuned on the same log-spaced grid (said so in the output), and writes the
contour and loss plots (PNG, SVG) and the table (CSV, JSON) to ./descentlab-out/playground-<name>.
Bad input (an unknown name, a malformed start point, a non-positive step budget) exits with
status 2 and a message naming the value and the fix.

Example:
    $ descentlab playground --function saddle --optimizers sgd,adagrad,rmsprop --lr default \\
        --steps 400 --out out/saddle
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


class CLIError(ValueError):
    """Bad command-line input: printed as `descentlab: error: ...`, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value:g}")
    return value


def _positive_float(text: str) -> float:
    value = _nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands: playground, list)."""
    from descentlab import __version__

    parser = argparse.ArgumentParser(
        prog="descentlab",
        description="descentlab: a deep-learning framework on NumPy and a lab to compare optimizers.",
    )
    parser.add_argument("--version", action="version", version=f"descentlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    pg = sub.add_parser(
        "playground",
        help="race optimizers on a 2-D test surface; write plots and a table",
        description="Run optimizers from the same start for the same number of steps on a 2-D "
        "test surface; write a contour plot with the trajectories, loss curves, an optional "
        "animation, and a table (CSV/JSON). Without --lr, each optimizer's lr is tuned on the "
        "same log-spaced grid.",
    )
    pg.add_argument("--function", "-f", default="rosenbrock",
                    help="test surface, optionally with parameters: 'rosenbrock', "
                    "'quadratic:condition=100,angle=30' (see `descentlab list functions`); "
                    "default rosenbrock")  # fmt: skip
    pg.add_argument("--expr", help="a formula in x and y to use as the surface, e.g. "
                    "'x**2 + 10*y**2' (implies --function expr)")  # fmt: skip
    pg.add_argument("--range", dest="plot_range", metavar="XMIN,XMAX,YMIN,YMAX",
                    help="plot box for --expr (default -3,3,-3,3)")  # fmt: skip
    pg.add_argument("--optimizers", "-o", default=None,
                    help="comma-separated registry names, each optionally with hyperparameters: "
                    "'sgd,momentum(momentum=0.5),adam(lr=0.1)'; default "
                    "sgd,momentum,nesterov,adagrad,rmsprop,adam")  # fmt: skip
    pg.add_argument("--transform", "-t", action="append", default=[], metavar="LABEL=EXPR",
                    help="an explicit gradient-transformation chain as a contestant, e.g. "
                    "'heavy=chain(trace(momentum=0.9), scale_by_learning_rate())' (repeatable; "
                    "with --transform and no --optimizers only the transforms run)")  # fmt: skip
    pg.add_argument("--steps", "-n", type=_positive_int, default=500,
                    help="step budget, the same for every optimizer (default 500)")  # fmt: skip
    pg.add_argument("--lr", default=None,
                    help="one lr for all (0.01), per optimizer (sgd=0.01,adam=0.1; the others "
                    "then use their default, or are tuned with --tune), or 'default' for each "
                    "optimizer's registry default; omitted: tuned")  # fmt: skip
    pg.add_argument("--tune", action="store_true",
                    help="tune each lr on the same log-spaced grid (the default without --lr)")  # fmt: skip
    pg.add_argument("--lr-grid", default=None, metavar="LO:HI:N or A,B,C",
                    help="tuning grid: N log-spaced values from LO to HI, or a list "
                    "(default 1e-4:1:9)")  # fmt: skip
    pg.add_argument("--criterion", choices=("final", "steps"), default="final",
                    help="tuning criterion: lowest mean final f, or fewest steps to the target")  # fmt: skip
    pg.add_argument("--tol", type=_positive_float, default=1e-3,
                    help="target: f - f* <= tol (default 1e-3)")  # fmt: skip
    pg.add_argument("--noise", type=_nonnegative_float, default=0.0,
                    help="std of Gaussian noise added to each gradient component (default 0)")  # fmt: skip
    pg.add_argument("--seeds", type=_positive_int, default=1,
                    help="number of noise seeds (default 1)")  # fmt: skip
    pg.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    pg.add_argument("--clip", type=_positive_float, default=None, metavar="NORM",
                    help="clip each gradient to this L2 norm (default: no clipping)")  # fmt: skip
    pg.add_argument("--start", default=None, metavar="X,Y",
                    help="start point (default: the surface's standard start)")  # fmt: skip
    pg.add_argument("--animate", nargs="?", const="gif", choices=("gif", "html"), default=None,
                    help="also write an animation (gif, or html)")  # fmt: skip
    pg.add_argument("--formats", default="png,svg",
                    help="figure formats, comma-separated among png, svg, pdf (default png,svg)")  # fmt: skip
    pg.add_argument("--no-plots", action="store_true", help="write only the table")
    pg.add_argument("--out", default=None, metavar="DIR",
                    help="output folder (default ./descentlab-out/playground-<function>)")  # fmt: skip
    pg.set_defaults(handler=_playground)

    ls = sub.add_parser("list", help="list test functions or optimizers")
    ls.add_argument("what", choices=("functions", "optimizers"), help="what to list")
    ls.set_defaults(handler=_list)
    return parser


# ------------------------------------------------------------------------------ parsing helpers
def _parse_lr(text: str | None) -> Any:
    if text is None:
        return None
    text = text.strip()
    if text == "default":
        return "default"
    if "=" not in text:
        try:
            return float(text)
        except ValueError:
            raise CLIError(
                f"--lr {text!r}: expected a number, 'default', or name=lr pairs like "
                "'sgd=0.01,adam=0.1'"
            ) from None
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, eq, value = item.rpartition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise CLIError(f"--lr {item!r}: the value after '=' must be a number") from None
        if not eq or not name.strip():
            raise CLIError(f"--lr {item!r}: write name=lr, e.g. 'adam=0.1'")
    return out


def _parse_grid(text: str | None) -> Any:
    if text is None:
        return None
    import numpy as np

    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            lo_f, hi_f, count = float(lo), float(hi), int(n)
            if not (0 < lo_f < hi_f and count >= 2):
                raise ValueError
            return [float(v) for v in np.logspace(np.log10(lo_f), np.log10(hi_f), count)]
        values = [float(v) for v in text.split(",") if v.strip()]
        if not values or any(v <= 0 for v in values):
            raise ValueError
        return values
    except ValueError:
        raise CLIError(
            f"--lr-grid {text!r}: write LO:HI:N (N log-spaced values, 0 < LO < HI, N >= 2) "
            "or a list of positive numbers 'A,B,C'"
        ) from None


def _parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        parts = [float(v) for v in text.split(",")]
        if len(parts) != 4:
            raise ValueError
    except ValueError:
        raise CLIError(f"--range {text!r}: write four numbers XMIN,XMAX,YMIN,YMAX") from None
    return (parts[0], parts[1], parts[2], parts[3])


# ------------------------------------------------------------------------------ commands
def _surface(args: argparse.Namespace) -> Any:
    from descentlab.lab import functions

    if args.expr is not None or args.function.strip().lower() == "expr":
        if args.expr is None:
            raise CLIError("--function expr needs a formula: add --expr 'x**2 + 10*y**2'")
        box = _parse_box(args.plot_range) if args.plot_range else (-3.0, 3.0, -3.0, 3.0)
        return functions.expression(args.expr, plot_range=box)
    if args.plot_range:
        raise CLIError("--range applies to --expr only; built-in surfaces have their own box")
    return functions.parse_function_spec(args.function)


def _playground(args: argparse.Namespace) -> int:
    from descentlab.lab import run_playground

    surface = _surface(args)
    lr = _parse_lr(args.lr)
    if args.tune and lr is not None and not isinstance(lr, dict):
        raise CLIError("--tune and --lr VALUE exclude each other: tuning picks the lr")
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("png", "svg", "pdf")]
    if bad or not formats:
        raise CLIError(f"--formats {args.formats!r}: choose among png, svg, pdf")
    from descentlab.lab.playground import DEFAULT_OPTIMIZERS, parse_optimizers, parse_transform

    contestants = []
    if args.optimizers is not None or not args.transform:
        contestants.extend(parse_optimizers(args.optimizers or ",".join(DEFAULT_OPTIMIZERS)))
    contestants.extend(parse_transform(t) for t in args.transform)
    result = run_playground(
        surface,
        contestants,
        steps=args.steps,
        lr=lr,
        start=args.start,
        noise=args.noise,
        seeds=args.seeds,
        seed=args.seed,
        clip_norm=args.clip,
        tune=True if args.tune else None,
        lr_grid=_parse_grid(args.lr_grid),
        criterion=args.criterion,
        tol=args.tol,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    out = Path(args.out) if args.out else Path("descentlab-out") / f"playground-{surface.name}"
    if args.no_plots:
        paths = result.save_table(out)
    else:
        paths = result.save(out, formats=formats, animate=args.animate or False)
    print(f"{surface.name}: {surface.formula}")
    print(result.format_table())
    print(f"wrote {len(paths)} files to {out}/:")
    for path in paths.values():
        print(f"  {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    if args.what == "functions":
        from descentlab.lab.functions import FUNCTIONS

        width = max(len(n) for n in FUNCTIONS)
        for name, make in FUNCTIONS.items():
            s = make()
            fmin = "unbounded below" if s.f_min is None else f"f* = {s.f_min:.6g}"
            count = f"{len(s.minima)} global minim{'um' if len(s.minima) == 1 else 'a'}"
            print(f"{name:<{width}}  {s.formula}")
            print(f"{'':<{width}}    {s.description}; {count}, {fmin}; "
                  f"start {s.start}")  # fmt: skip
        print(f"{'expr':<{width}}  a formula in x and y: --expr 'x**2 + 10*y**2'")
        print("parameters: quadratic:condition=100,angle=30  rosenbrock:a=1,b=100")
        return 0
    from descentlab.lab.playground import _registry

    registry = _registry()
    names = registry.available()
    width = max(len(n) for n in names)
    print(f"{'name':<{width}}  {'lr':>7}  {'conv.':<5}  description")
    for name in names:
        spec = registry.REGISTRY[name]
        lr = spec.defaults.get("lr", spec.defaults.get("learning_rate"))
        lr_text = "-" if lr is None else f"{lr:g}"
        print(f"{name:<{width}}  {lr_text:>7}  {spec.convention:<5}  {spec.description}")
    return 0


_NUMBER_LIST_OPTIONS = ("--start", "--range")


def _glue_negative_values(argv: list[str]) -> list[str]:
    """Let `--start -1.2,1` work: argparse would read '-1.2,1' as an option, so write '--start=-1.2,1'."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if (
            tok in _NUMBER_LIST_OPTIONS
            and nxt is not None
            and nxt[:1] == "-"
            and nxt[1:2] in (*"0123456789.",)
        ):
            out.append(f"{tok}={nxt}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `descentlab` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(list(sys.argv[1:] if argv is None else argv)))
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except ValueError as exc:  # CLIError and the library's input errors
        print(f"descentlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
