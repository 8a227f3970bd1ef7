"""The 2-D optimizer playground: run several optimizers on one test surface, fairly, and measure.

Every optimizer starts from the same point and gets the same number of steps (one step = one
gradient evaluation, except for L-BFGS, whose line search may evaluate more: the table counts
evaluations). Optional Gaussian noise on the gradient makes the setting stochastic; with several
seeds every optimizer sees the same noise sequence for the same seed (common random numbers).
Gradient clipping happens only when asked, and is stated in the settings. A run that produces
NaN or leaves the divergence box stops there and is reported as diverged (on a surface unbounded
below, the saddle, leaving the box is descending, not diverging). Learning-rate tuning, when asked,
gives every optimizer the same log-spaced grid and picks by a stated criterion.

The result holds the data (trajectories, values, a table with one row per optimizer, the settings),
so it works in a notebook; `result.save(out_dir)` writes plots (PNG, SVG, optional GIF/HTML
animation) and the table (CSV, JSON).

Example:
    >>> from descentlab.lab import run_playground
    >>> res = run_playground("quadratic", ["sgd", "momentum"], steps=400, lr=0.01)
    >>> [row["optimizer"] for row in res.table]
    ['sgd', 'momentum']
    >>> res.table[1]["steps_to_target"] < res.table[0]["steps_to_target"]
    True
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from descentlab.lab.functions import Surface, parse_function_spec, unknown_name_error

__all__ = [
    "DEFAULT_OPTIMIZERS",
    "DEFAULT_LR_GRID",
    "OptimizerChoice",
    "Run",
    "PlaygroundResult",
    "parse_optimizers",
    "parse_point",
    "parse_transform",
    "run_playground",
]

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
# Half-decade steps from 1e-4 to 1: nine learning rates, the same for every optimizer.
DEFAULT_LR_GRID = tuple(float(v) for v in np.logspace(-4, 0, 9))
CRITERIA = {
    "final": "lowest mean final f over seeds (a diverged seed counts as +inf)",
    "steps": "fewest median steps to the target over seeds (not reached = +inf; ties: final f)",
}
TABLE_COLUMNS = (
    "optimizer", "lr", "lr_source", "hyper", "final_f", "final_f_std", "distance",
    "steps_to_target", "reached", "diverged", "runs", "status", "grad_evals", "wall_time_s",
)  # fmt: skip


# ------------------------------------------------------------------------------ choices
@dataclasses.dataclass
class OptimizerChoice:
    """One contestant: a registry name with hyperparameters, or an explicit transform chain.

    A transform is `descentlab.optim.transforms.chain(...)` (init/update over lists of arrays,
    updates added to the parameters); the playground passes ``hyper={"lr": lr}`` to its update,
    so a chain ending in ``scale_by_learning_rate()`` (no fixed rate) takes the playground's lr.
    """

    label: str
    name: str | None = None
    hyper: dict[str, Any] = dataclasses.field(default_factory=dict)
    transform: Any = None

    def describe_hyper(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())


def _registry() -> Any:
    from descentlab.optim import registry

    registry.available()  # loads the "keras.<name>" entries on first use
    return registry


def _check_name(name: str) -> str:
    names = list(_registry().available())
    if name not in names:
        raise unknown_name_error("optimizer", name, names)
    return name


def _dotted(node: ast.AST, text: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value, text)}.{node.attr}"
    raise ValueError(
        f"optimizer list {text!r}: {ast.unparse(node)!r} is not an optimizer name; write e.g. "
        "'sgd,momentum(lr=0.05),adam(betas=(0.8, 0.99))'"
    )


def _parse_text(text: str) -> list[OptimizerChoice]:
    """'sgd, adam(lr=0.1, betas=(0.8, 0.99)), keras.adam' -> choices (literal values only)."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(
            f"optimizer list {text!r} is malformed ({exc.msg}); write e.g. "
            "'sgd,momentum(lr=0.05),adam'"
        ) from None
    items = tree.elts if isinstance(tree, ast.Tuple) else [tree]
    out = []
    for node in items:
        hyper: dict[str, Any] = {}
        if isinstance(node, ast.Call):
            if node.args:
                raise ValueError(
                    f"optimizer {ast.unparse(node)!r}: give hyperparameters by name, e.g. "
                    "'sgd(lr=0.1, momentum=0.9)'"
                )
            for kw in node.keywords:
                try:
                    hyper[str(kw.arg)] = ast.literal_eval(kw.value)
                except ValueError:
                    raise ValueError(
                        f"optimizer {ast.unparse(node)!r}: {kw.arg}={ast.unparse(kw.value)} is "
                        "not a literal (numbers, True/False, tuples)"
                    ) from None
            name = _dotted(node.func, text)
        else:
            name = _dotted(node, text)
        out.append(OptimizerChoice(label=ast.unparse(node), name=name, hyper=hyper))
    return out


def parse_optimizers(spec: Any) -> list[OptimizerChoice]:
    """Normalise what a user names as contestants into a list of `OptimizerChoice`.

    Accepts a comma-separated string (``"sgd,momentum(lr=0.05),adam"``), a sequence of names /
    choices / `(label, transform)` pairs, or a mapping ``label -> name | dict | transform``.
    Unknown registry names raise a ValueError with close matches.
    """
    if spec is None:
        spec = DEFAULT_OPTIMIZERS
    choices: list[OptimizerChoice] = []
    if isinstance(spec, str):
        choices = _parse_text(spec)
    elif isinstance(spec, Mapping):
        for label, value in spec.items():
            choices.append(_choice_from(str(label), value))
    elif isinstance(spec, Iterable):
        for item in spec:
            if isinstance(item, OptimizerChoice):
                choices.append(item)
            elif isinstance(item, str):
                choices.extend(_parse_text(item))
            elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                choices.append(_choice_from(item[0], item[1]))
            else:
                raise TypeError(
                    f"optimizer entry {item!r} not understood: use a registry name, "
                    "'name(lr=...)', an OptimizerChoice or a (label, transform) pair"
                )
    else:
        raise TypeError(f"optimizers must be a string, a sequence or a mapping, got {spec!r}")
    if not choices:
        raise ValueError("no optimizers given; name at least one, e.g. 'sgd,adam'")
    for c in choices:
        if c.transform is None:
            _check_name(str(c.name))
    labels = [c.label for c in choices]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ValueError(f"optimizer labels must be unique, got {dupes} more than once")
    return choices


def _choice_from(label: str, value: Any) -> OptimizerChoice:
    if isinstance(value, str):
        parsed = _parse_text(value)
        if len(parsed) != 1:
            raise ValueError(f"optimizer {label!r}: {value!r} names more than one optimizer")
        return dataclasses.replace(parsed[0], label=label)
    if isinstance(value, Mapping):
        hyper = dict(value)
        name = hyper.pop("name", label)
        return OptimizerChoice(label=label, name=str(name), hyper=hyper)
    if hasattr(value, "init") and hasattr(value, "update"):
        return OptimizerChoice(label=label, transform=value)
    raise TypeError(
        f"optimizer {label!r}: expected a registry name, a dict of hyperparameters with 'name', "
        f"or a gradient transformation (init/update), got {type(value).__name__}"
    )


# Helpers in descentlab.optim.transforms that do not build a transformation.
_NOT_TRANSFORMS = {"GradientTransformation", "global_norm", "swap_ema"}


def parse_transform(text: str) -> OptimizerChoice:
    """A contestant from text ``"label=chain(trace(momentum=0.9), scale_by_learning_rate())"``.

    Only calls of the transformations in `descentlab.optim.transforms` with literal arguments (or
    nested transformations) are allowed: a restricted `ast` walk, nothing is evaluated as code.
    A chain ending in ``scale_by_learning_rate()`` takes the playground's (given or tuned) lr.

    Example:
        >>> parse_transform("heavy=chain(trace(0.9), scale_by_learning_rate())").label
        'heavy'
    """
    from descentlab.optim import transforms as T

    allowed = sorted(n for n in T.__all__ if n not in _NOT_TRANSFORMS)
    label, eq, body = text.partition("=")
    if not eq or not label.strip() or "(" in label:
        raise ValueError(
            f"transform {text!r}: write LABEL=EXPR, e.g. "
            "'heavy=chain(trace(momentum=0.9), scale_by_learning_rate())'"
        )
    try:
        tree = ast.parse(body.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"transform {text!r} is malformed: {exc.msg}") from None

    def build(node: ast.AST) -> Any:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            raise ValueError(
                f"transform {text!r}: {ast.unparse(node)!r} is not a call of a transformation "
                f"({', '.join(allowed)})"
            )
        if node.func.id not in allowed:
            raise unknown_name_error("transformation", node.func.id, allowed)
        args = [arg(a) for a in node.args]
        kwargs = {str(k.arg): arg(k.value) for k in node.keywords}
        try:
            return getattr(T, node.func.id)(*args, **kwargs)
        except TypeError as exc:
            raise ValueError(f"transform {text!r}: {node.func.id}: {exc}") from None

    def arg(node: ast.AST) -> Any:
        if isinstance(node, ast.Call):
            return build(node)
        try:
            return ast.literal_eval(node)
        except ValueError:
            raise ValueError(
                f"transform {text!r}: argument {ast.unparse(node)!r} must be a literal "
                "(number, True/False, tuple) or a transformation"
            ) from None

    return OptimizerChoice(label=label.strip(), transform=build(tree))


def parse_point(text: Any) -> tuple[float, float]:
    """'x,y' (or a pair of numbers) -> (x, y); anything else is a ValueError saying how to write it."""
    if isinstance(text, str):
        parts = [s for s in text.replace(" ", "").split(",") if s != ""]
    else:
        try:
            parts = list(text)
        except TypeError:
            parts = [text]
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
    except (TypeError, ValueError):
        raise ValueError(
            f"start point {text!r} is malformed: write two numbers 'x,y', e.g. '-1.2,1'"
        ) from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"start point {text!r} must be finite")
    return x, y


# ------------------------------------------------------------------------------ runs
@dataclasses.dataclass
class Run:
    """One optimizer on one seed: the path, the values along it and what happened."""

    label: str
    seed: int
    lr: float | None
    positions: np.ndarray  # (k + 1, 2): x_0 .. x_k, where k <= steps (fewer if the run stopped)
    values: np.ndarray  # (k + 1,): f(x_t)
    diverged: bool
    left_bounds: bool
    steps_to_target: int | None
    grad_evals: int
    wall_time_s: float

    @property
    def final_value(self) -> float:
        return float(self.values[-1])

    @property
    def final_position(self) -> np.ndarray:
        return self.positions[-1]


class _Stepper:
    """Runs one optimizer on one surface for a budget of steps (kept lean: it is the hot loop)."""

    def __init__(self, surface: Surface, choice: OptimizerChoice, lr: float | None,
                 dtype: Any) -> None:  # fmt: skip
        self.surface, self.choice, self.lr, self.dtype = surface, choice, lr, dtype

    def run(self, start: tuple[float, float], steps: int, seed: int, noise: float,
            clip_norm: float | None, bounds: tuple[float, float, float, float],
            threshold: float | None) -> Run:  # fmt: skip
        from descentlab.nn import Parameter

        surface = self.surface
        p = Parameter(np.array(start, dtype=self.dtype))
        rng = np.random.default_rng(seed) if noise > 0 else None
        evals = 0

        def gradient() -> np.ndarray:
            nonlocal evals
            evals += 1
            p.grad = None
            surface(p).backward()
            g = p.grad
            if rng is not None:
                g = g + noise * rng.standard_normal(2)
            if clip_norm is not None:
                n = math.hypot(float(g[0]), float(g[1]))
                if n > clip_norm:
                    g = g * (clip_norm / n)
            return g

        step = self._make_step(p, gradient)
        positions = np.empty((steps + 1, 2))
        positions[0] = p.data
        x0, x1, y0, y1 = bounds
        stopped_at, bad = steps, False
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            for t in range(1, steps + 1):
                step()
                a, b = float(p.data[0]), float(p.data[1])
                positions[t] = (a, b)
                # NaN fails every comparison, so one test catches both NaN and leaving the box.
                if not (x0 <= a <= x1 and y0 <= b <= y1):
                    stopped_at, bad = t, True
                    break
        wall = time.perf_counter() - t0
        positions = positions[: stopped_at + 1]
        values = surface.numpy(positions[:, 0], positions[:, 1]).copy()
        undefined = np.flatnonzero(~np.isfinite(values))
        if undefined.size:  # a point where f itself is NaN/inf (log of a negative, ...)
            stopped_at, bad = int(undefined[0]), True
            positions, values = positions[: stopped_at + 1], values[: stopped_at + 1]
            positions[-1] = np.nan
        nonfinite = bad and not np.all(np.isfinite(positions[-1]))
        escaped = bad and not nonfinite and surface.unbounded_below
        diverged = bad and not escaped
        if diverged:
            # Leave the divergent point out of the data so that no plot draws it.
            positions, values = positions[:-1], values[:-1]
        hit = None
        if threshold is not None:
            idx = np.flatnonzero(values <= threshold)
            hit = int(idx[0]) if idx.size else None
        return Run(
            label=self.choice.label, seed=seed, lr=self.lr, positions=positions, values=values,
            diverged=diverged, left_bounds=bad and not nonfinite, steps_to_target=hit,
            grad_evals=evals, wall_time_s=wall,
        )  # fmt: skip

    def _make_step(self, p: Any, gradient: Callable[[], np.ndarray]) -> Callable[[], None]:
        choice = self.choice
        if choice.transform is not None:
            tx = choice.transform
            params = [p.data]
            state = tx.init(params)
            hyper = {"lr": self.lr} if self.lr is not None else None

            def step_tx() -> None:
                nonlocal state
                g = np.array(gradient(), dtype=p.data.dtype)  # transforms edit updates in place
                updates, state = tx.update([g], state, params, hyper)
                p.data += updates[0]

            return step_tx

        from descentlab import optim

        hyper = dict(choice.hyper)
        if self.lr is not None:
            hyper[_lr_key(str(choice.name))] = self.lr
        if _needs_closure(str(choice.name)):
            # One playground step = one L-BFGS iteration (its line search may evaluate more:
            # the table's grad_evals shows it), not PyTorch's 20 iterations per step() call.
            # max_eval must leave room for the line search: PyTorch's default (1.25 * max_iter)
            # would be 1 here, which stops L-BFGS from ever moving.
            hyper.setdefault("max_iter", 1)
            hyper.setdefault("max_eval", int(hyper["max_iter"]) + 25)
        opt = optim.get(str(choice.name), [p], **hyper)
        if _needs_closure(str(choice.name)):

            def closure() -> float:
                p.grad = gradient()
                return self.surface.value(p.data)

            return lambda: opt.step(closure)

        def step_opt() -> None:
            p.grad = gradient()
            opt.step()

        return step_opt


def _spec(name: str) -> Any:
    return _registry().REGISTRY[name]


def _lr_key(name: str) -> str:
    defaults = _spec(name).defaults
    return "learning_rate" if "learning_rate" in defaults and "lr" not in defaults else "lr"


def _needs_closure(name: str) -> bool:
    return name.split(".")[-1] == "lbfgs"


def _default_lr(choice: OptimizerChoice) -> float | None:
    if choice.transform is not None:
        return None
    spec = _spec(str(choice.name))
    key = _lr_key(str(choice.name))
    if key in choice.hyper:
        return float(choice.hyper[key])
    value = spec.defaults.get(key)
    return None if value is None else float(value)


# ------------------------------------------------------------------------------ result
@dataclasses.dataclass
class PlaygroundResult:
    """Everything a playground run produced: settings, per-seed runs, the table, tuning scores."""

    surface: Surface
    choices: list[OptimizerChoice]
    runs: dict[str, list[Run]]
    table: list[dict[str, Any]]
    settings: dict[str, Any]
    tuning: dict[str, list[dict[str, Any]]]

    def trajectories(self, seed_index: int = 0) -> dict[str, np.ndarray]:
        """label -> (k + 1, 2) positions of one seed."""
        return {label: runs[seed_index].positions for label, runs in self.runs.items()}

    def format_table(self) -> str:
        """The table as aligned text, with the settings that make it honest underneath."""
        cols = ["optimizer", "lr", "final_f", "distance", "steps_to_target", "reached",
                "diverged", "status", "grad_evals", "wall_time_s"]  # fmt: skip
        header = {"steps_to_target": "steps_to_tgt", "wall_time_s": "time_s"}

        def cell(row: dict[str, Any], c: str) -> str:
            v = row[c]
            if v is None:
                return "-"
            if c == "lr":
                return f"{v:.3g}" + ("*" if row["lr_source"] == "tuned" else "")
            if c in ("reached", "diverged"):
                return f"{v}/{row['runs']}"
            if isinstance(v, float):
                return f"{v:.4g}" if c != "wall_time_s" else f"{v:.3f}"
            return str(v)

        rows = [[header.get(c, c) for c in cols]] + [[cell(r, c) for c in cols] for r in self.table]
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        lines = ["  ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.extend(f"# {note}" for note in self.settings["notes"])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: settings, table, tuning scores, and per-run trajectories."""
        runs = {
            label: [
                {
                    "seed": r.seed,
                    "lr": r.lr,
                    "diverged": r.diverged,
                    "steps_to_target": r.steps_to_target,
                    "grad_evals": r.grad_evals,
                    "positions": r.positions.tolist(),
                    "values": r.values.tolist(),
                }  # fmt: skip
                for r in rs
            ]
            for label, rs in self.runs.items()
        }
        return {"settings": self.settings, "table": self.table, "tuning": self.tuning, "runs": runs}

    def table_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(TABLE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in self.table:
            writer.writerow({k: ("" if row[k] is None else row[k]) for k in TABLE_COLUMNS})
        return buf.getvalue()

    def save_table(self, out_dir: str | Path) -> dict[str, Path]:
        """Write table.csv and results.json (settings, table, tuning, trajectories)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        csv_path, json_path = out / "table.csv", out / "results.json"
        csv_path.write_text(self.table_csv())
        json_path.write_text(json.dumps(_jsonable(self.to_dict()), indent=1, allow_nan=False))
        return {"table_csv": csv_path, "results_json": json_path}

    def figures(self) -> dict[str, Any]:
        """The matplotlib figures (contour with trajectories, loss curves), for a notebook."""
        from descentlab.lab import plots

        return {"contour": plots.contour_figure(self), "loss": plots.loss_figure(self)}

    def save(self, out_dir: str | Path, formats: Sequence[str] = ("png", "svg"),
             animate: str | bool = False) -> dict[str, Path]:  # fmt: skip
        """Write the figures (in `formats`), the optional animation ('gif' or 'html') and the table."""
        from descentlab.lab import plots

        paths = plots.save_figures(self, out_dir, formats=formats)
        if animate:
            fmt = "gif" if animate is True else str(animate)
            paths["animation"] = plots.save_animation(self, Path(out_dir) / f"trajectories.{fmt}")
        paths.update(self.save_table(out_dir))
        return paths


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


# ------------------------------------------------------------------------------ the runner
def _resolve_surface(function: Any) -> Surface:
    if isinstance(function, Surface):
        return function
    if isinstance(function, str):
        return parse_function_spec(function)
    raise TypeError(f"function must be a name or a Surface, got {type(function).__name__}")


def _score(runs: list[Run], criterion: str) -> tuple[float, float]:
    finals = [math.inf if r.diverged or not math.isfinite(r.final_value) else r.final_value
              for r in runs]  # fmt: skip
    final = float(np.mean(finals))
    if criterion == "final":
        return (final, 0.0)
    steps = [math.inf if r.steps_to_target is None else r.steps_to_target for r in runs]
    return (float(np.median(steps)), final)


def _lr_is_live(choice: OptimizerChoice, surface: Surface, start: tuple[float, float]) -> bool:
    """Whether a transform chain reads hyper['lr'] (probe one update at two rates)."""
    g = surface.gradient(start)
    if not np.any(g):
        g = np.ones(2)
    outs = []
    for lr in (1.0, 2.0):
        params = [np.array(start, dtype=np.float64)]
        state = choice.transform.init(params)
        try:
            u, _ = choice.transform.update([g.copy()], state, params, {"lr": lr})
        except Exception:  # a chain that cannot run at all fails loudly in the real run
            return False
        outs.append(np.array(u[0]))
    return not np.allclose(outs[0], outs[1])


def _row(choice: OptimizerChoice, runs: list[Run], lr: float | None, lr_source: str,
         surface: Surface) -> dict[str, Any]:  # fmt: skip
    ok = [r for r in runs if not r.diverged]
    finals = [r.final_value for r in ok]
    dists = [surface.distance_to_minimum(r.final_position) for r in ok]
    hits = [r.steps_to_target for r in runs if r.steps_to_target is not None]
    n_div = sum(r.diverged for r in runs)
    if n_div == len(runs):
        status = "diverged"
    elif surface.success_threshold(1.0) is None:  # no known minimum: nothing to reach
        status = "finished" if n_div == 0 else "mixed"
    elif len(hits) == len(runs):
        status = "reached"
    elif hits or n_div:
        status = "mixed"
    else:
        status = "not reached"
    hyper = choice.describe_hyper() if choice.transform is None else "transform chain"
    return {
        "optimizer": choice.label,
        "lr": lr,
        "lr_source": lr_source,
        "hyper": hyper,
        "final_f": float(np.mean(finals)) if finals else None,
        "final_f_std": float(np.std(finals)) if len(finals) > 1 else None,
        "distance": float(np.mean(dists)) if ok and dists[0] is not None else None,
        "steps_to_target": int(np.median(hits)) if hits else None,
        "reached": len(hits),
        "diverged": n_div,
        "runs": len(runs),
        "status": status,
        "grad_evals": int(round(np.mean([r.grad_evals for r in runs]))),
        "wall_time_s": float(np.mean([r.wall_time_s for r in runs])),
    }


def run_playground(
    function: str | Surface = "rosenbrock",
    optimizers: Any = None,
    *,
    steps: int = 500,
    lr: float | Mapping[str, float] | str | None = None,
    start: Any = None,
    noise: float = 0.0,
    seeds: int = 1,
    seed: int = 0,
    clip_norm: float | None = None,
    tune: bool | None = None,
    lr_grid: Sequence[float] | None = None,
    criterion: str = "final",
    tol: float = 1e-3,
    bounds: tuple[float, float, float, float] | None = None,
    dtype: Any = np.float64,
    progress: Callable[[str], None] | None = None,
) -> PlaygroundResult:
    """Run each optimizer from the same start for the same number of steps and tabulate.

    Args:
        function: a surface name (``"rosenbrock"``, ``"quadratic:condition=100"``) or a `Surface`.
        optimizers: names (``"sgd,momentum(lr=0.05),adam"`` or a list), a mapping label -> name /
            hyperparameter dict / transform chain, or `OptimizerChoice`s. Default: the six classics.
        steps: the step budget, the same for everyone.
        lr: one learning rate for all, a mapping label -> lr, ``"default"`` for each optimizer's
            registry default, or None (then tuned, unless ``tune=False``). An lr written in the
            optimizer's name (``"sgd(lr=0.1)"``) wins over all of these.
        start: (x, y) or "x,y"; default: the surface's standard start.
        noise: standard deviation of Gaussian noise added to each gradient component (0 = exact).
        seeds: number of noise seeds (seed, seed + 1, ...); every optimizer sees the same noise.
        clip_norm: clip each gradient to this L2 norm before the optimizer sees it (off by default).
        tune: pick each optimizer's lr from `lr_grid` (the same grid for all) by `criterion`;
            None means "tune when no lr was given", False means registry defaults then.
        criterion: "final" (mean final f) or "steps" (median steps to the target).
        tol: a run "reaches the target" at the first step with f - f* <= tol.
        bounds: the divergence box (xmin, xmax, ymin, ymax); default: `surface.bounds`.
        dtype: parameter dtype (float64 by default, so the picture shows the method, not rounding).
        progress: called with one line per finished optimizer (the CLI prints it to stderr).

    Returns:
        A `PlaygroundResult` (trajectories per seed, a table with one row per optimizer, settings).
    """
    surface = _resolve_surface(function)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"steps must be a positive integer (the step budget), got steps={steps!r}")
    if not (isinstance(seeds, (int, np.integer)) and seeds >= 1):
        raise ValueError(f"seeds must be a positive integer, got seeds={seeds!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise is a standard deviation and must be >= 0, got noise={noise!r}")
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0 (or None for no clipping), got {clip_norm!r}")
    if criterion not in CRITERIA:
        raise unknown_name_error("tuning criterion", criterion, list(CRITERIA))
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got tol={tol!r}")
    choices = parse_optimizers(optimizers)
    start_pt = surface.start if start is None else parse_point(start)
    box = surface.bounds if bounds is None else tuple(float(v) for v in bounds)
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
        raise ValueError(f"bounds must be (xmin, xmax, ymin, ymax) with min < max, got {bounds}")
    if not math.isfinite(surface.value(start_pt)):
        raise ValueError(
            f"{surface.name!r} is not defined at the start point {tuple(start_pt)} "
            f"(f = {surface.value(start_pt)}); choose a start where f is finite"
        )
    if not (box[0] <= start_pt[0] <= box[1] and box[2] <= start_pt[1] <= box[3]):
        raise ValueError(
            f"start point {tuple(start_pt)} is outside the divergence box {tuple(box)} of "
            f"{surface.name!r}; start inside it (the plot range is {surface.plot_range})"
        )
    threshold = surface.success_threshold(tol)
    if criterion == "steps" and threshold is None:
        raise ValueError(
            f"criterion 'steps' needs a target, but {surface.name!r} has no known minimum; "
            "use criterion='final' or give the minimum"
        )
    notes: list[str] = []
    n_seeds = int(seeds)
    if noise == 0 and n_seeds > 1:
        notes.append(f"noise is 0, so the runs are deterministic: {n_seeds} seeds collapsed to 1")
        n_seeds = 1
    seed_list = [int(seed) + i for i in range(n_seeds)]
    grid = tuple(float(v) for v in (lr_grid if lr_grid is not None else DEFAULT_LR_GRID))
    if isinstance(lr, str) and lr != "default":
        raise ValueError(f"lr must be a number, a mapping or 'default', got {lr!r}")
    explicit_lr = lr is not None and not isinstance(lr, str)
    if tune is None:
        tune = lr is None
    elif tune and explicit_lr and not isinstance(lr, Mapping):
        raise ValueError(
            "give either one lr for everyone or tune=True, not both (a mapping of lrs for some "
            "optimizers can be combined with tuning the others)"
        )
    if isinstance(lr, Mapping):
        unknown = sorted(set(lr) - {c.label for c in choices})
        if unknown:
            labels = [c.label for c in choices]
            raise ValueError(f"lr given for unknown optimizers {unknown}; labels are {labels}")
    if tune and (not grid or any(not v > 0 for v in grid)):
        raise ValueError(f"lr_grid must hold positive learning rates, got {grid}")

    def run_all(choice: OptimizerChoice, rate: float | None) -> list[Run]:
        stepper = _Stepper(surface, choice, rate, dtype)
        return [stepper.run(start_pt, int(steps), s, float(noise), clip_norm, box, threshold)
                for s in seed_list]  # fmt: skip

    runs: dict[str, list[Run]] = {}
    table: list[dict[str, Any]] = []
    tuning: dict[str, list[dict[str, Any]]] = {}
    used_lr: dict[str, Any] = {}
    for choice in choices:
        t_choice = time.perf_counter()
        lr_key = None if choice.transform is not None else _lr_key(str(choice.name))
        fixed_in_name = lr_key is not None and lr_key in choice.hyper
        given = fixed_in_name or (isinstance(lr, Mapping) and choice.label in lr)
        given = given or (explicit_lr and not isinstance(lr, Mapping))
        tunable = not given and (choice.transform is None or _lr_is_live(choice, surface, start_pt))
        if tune and tunable:
            best: tuple[tuple[float, float], float, list[Run]] | None = None
            scores = []
            for rate in grid:
                rs = run_all(choice, rate)
                sc = _score(rs, criterion)
                scores.append({"lr": rate, "score": sc[0], "tiebreak": sc[1]})
                if best is None or sc < best[0]:
                    best = (sc, rate, rs)
            assert best is not None
            tuning[choice.label] = scores
            rate, source, rs = best[1], "tuned", best[2]
            if not math.isfinite(best[0][0]):
                notes.append(f"{choice.label}: no lr in the grid gave a finite score")
            elif len(grid) > 1 and rate in (min(grid), max(grid)):
                notes.append(f"{choice.label}: tuned lr {rate:.3g} is at the edge of the grid")
        else:
            if tune:
                why = "lr given" if given else "transform with a fixed rate"
                notes.append(f"{choice.label}: not tuned ({why})")
            if fixed_in_name:
                rate, source = None, "given"
            elif isinstance(lr, Mapping) and choice.label in lr:
                rate, source = float(lr[choice.label]), "given"
            elif explicit_lr and not isinstance(lr, Mapping):
                rate, source = float(lr), "given"
            elif choice.transform is not None:
                rate, source = None, "in transform"
            else:
                rate, source = _default_lr(choice), "default"
            rs = run_all(choice, rate)
        shown_lr = rate if rate is not None else (_default_lr(choice) if fixed_in_name else None)
        runs[choice.label] = rs
        used_lr[choice.label] = {"lr": shown_lr, "source": source}
        if progress is not None:
            how = f"lr {shown_lr:.3g} ({source})" if shown_lr is not None else "lr in transform"
            n_runs = len(seed_list) * (len(grid) if source == "tuned" else 1)
            progress(
                f"{choice.label}: {how}, {n_runs} run(s) in {time.perf_counter() - t_choice:.1f} s"
            )
        table.append(_row(choice, rs, shown_lr, source, surface))

    settings: dict[str, Any] = {
        "function": surface.name,
        "formula": surface.formula,
        "function_params": dict(surface.params),
        "start": list(start_pt),
        "steps": int(steps),
        "noise": float(noise),
        "noise_model": "g + noise * N(0, I), same sequence for every optimizer per seed"
        if noise
        else "none (exact gradients)",
        "seeds": seed_list,
        "clip_norm": clip_norm,
        "clipping": f"gradient clipped to L2 norm {clip_norm:g}" if clip_norm else "none",
        "dtype": np.dtype(dtype).name,
        "bounds": list(box),
        "divergence": "NaN or leaving the bounds box"
        + (
            " (on this surface, unbounded below, leaving it is descent, not divergence)"
            if surface.unbounded_below
            else ""
        ),  # fmt: skip
        "target": surface.describe_success(tol),
        "tol": tol,
        "lr": used_lr,
        "tuned": bool(tune),
        "lr_grid": list(grid) if tune else None,
        "criterion": CRITERIA[criterion] if tune else None,
        "notes": notes,
    }
    if tune:
        notes.insert(0, f"lr tuned (marked *) over {len(grid)} log-spaced values "
                        f"{grid[0]:.3g}..{grid[-1]:.3g}; criterion: {CRITERIA[criterion]}")  # fmt: skip
    if clip_norm:
        notes.append(settings["clipping"])
    if noise:
        notes.append(
            f"gradient noise std {noise:g}, seeds {seed_list}; table shows mean over seeds"
        )
    if any(c.transform is None and _needs_closure(str(c.name)) for c in choices):
        notes.append(
            "lbfgs: one step = one iteration (max_iter=1, max_eval=26 unless given); "
            "its line search costs extra gradient evaluations (grad_evals)"
        )
    notes.append(f"target: {settings['target']}; {int(steps)} steps from {tuple(start_pt)}")
    return PlaygroundResult(surface, choices, runs, table, settings, tuning)
