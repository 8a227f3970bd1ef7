"""Classic 2-D optimization test surfaces as differentiable descentlab functions.

Each surface is one formula written once, `expr(x, y, m)`, where `m` is a small math namespace: with
`m = TENSOR_MATH` the formula builds a descentlab graph (so `surface(p)` of a (2,) Parameter can be
backpropagated), with `m = NUMPY_MATH` it evaluates a whole grid at once for contour plots. A surface
also carries its standard domain, a plot range, standard start points and its known minima (checked
by the tests to be stationary points with the stated value).

A user formula goes through `expression("x**2 + 3*y**2")`: a restricted `ast` walk over x, y,
numbers, + - * / **, and a whitelist of math functions; nothing is passed to `eval`.

Example:
    >>> from descentlab.lab.functions import get_function
    >>> from descentlab.nn import Parameter
    >>> import numpy as np
    >>> f = get_function("rosenbrock")
    >>> p = Parameter(np.array([-1.2, 1.0]))
    >>> loss = f(p); loss.backward()
    >>> round(loss.item(), 6), p.grad.round(1).tolist()
    (24.2, [-215.6, -88.0])
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from descentlab import ops
from descentlab.tensor import Tensor

__all__ = [
    "Surface",
    "FUNCTIONS",
    "NUMPY_MATH",
    "TENSOR_MATH",
    "available_functions",
    "get_function",
    "parse_function_spec",
    "expression",
    "unknown_name_error",
]

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # (xmin, xmax, ymin, ymax)


def _np_sigmoid(x: Any) -> Any:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# The two backends the formulas are written against: NumPy for grids, descentlab ops for autograd.
NUMPY_MATH = SimpleNamespace(
    exp=np.exp, log=np.log, log1p=np.log1p, sqrt=np.sqrt, sin=np.sin, cos=np.cos,
    tan=np.tan, tanh=np.tanh, abs=np.abs, sigmoid=_np_sigmoid, maximum=np.maximum,
    minimum=np.minimum, pi=math.pi, e=math.e,
)  # fmt: skip
TENSOR_MATH = SimpleNamespace(
    exp=ops.exp, log=ops.log, log1p=ops.log1p, sqrt=ops.sqrt, sin=ops.sin, cos=ops.cos,
    tan=lambda x: ops.sin(x) / ops.cos(x), tanh=ops.tanh, abs=ops.abs, sigmoid=ops.sigmoid,
    maximum=ops.maximum, minimum=ops.minimum, pi=math.pi, e=math.e,
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Surface:
    """A 2-D test function f(x, y) with its domain, plot range, start points and known minima.

    Attributes:
        name: registry name (``"rosenbrock"``).
        formula: the formula as text, for legends and listings.
        expr: ``expr(x, y, m)`` written with operators and ``m.exp``, ``m.cos``... (one source for
            both the autograd and the NumPy evaluation).
        domain: the standard search box ``(xmin, xmax, ymin, ymax)``.
        plot_range: the box drawn in contour plots.
        starts: standard start points; ``starts[0]`` is the default.
        minima: the global minima, each a stationary point with value ``f_min``.
        f_min: the global minimum value, or None (unbounded below or unknown).
        local_minima: other known local minima (stationary, larger values).
        saddle_points: known saddle points.
        target: for surfaces without ``f_min``, the value whose crossing counts as success
            (the saddle: ``f <= -1`` means the run escaped).
        smooth_minima: False where f is not differentiable at its minimum (Ackley's cone tip).
        params: the parameters the surface was built with (condition number, ...).
        description: one line for ``descentlab list functions``.
    """

    name: str
    formula: str
    expr: Callable[[Any, Any, Any], Any]
    domain: Box
    plot_range: Box
    starts: tuple[Point, ...]
    minima: tuple[Point, ...] = ()
    f_min: float | None = None
    local_minima: tuple[Point, ...] = ()
    saddle_points: tuple[Point, ...] = ()
    target: float | None = None
    smooth_minima: bool = True
    params: Mapping[str, float] = dataclasses.field(default_factory=dict)
    description: str = ""

    def __call__(self, p: Tensor) -> Tensor:
        """f(p) for a (2,) tensor p = (x, y), as a differentiable scalar tensor."""
        if tuple(p.shape) != (2,):
            raise ValueError(
                f"surface {self.name!r} takes a point of shape (2,), got shape {tuple(p.shape)}; "
                "pass Parameter(np.array([x, y]))"
            )
        out = self.expr(p[0], p[1], TENSOR_MATH)
        if not isinstance(out, Tensor):  # a formula that ignores both coordinates
            out = p.sum() * 0.0 + float(out)
        return out

    def numpy(self, x: Any, y: Any) -> np.ndarray:
        """f on NumPy arrays (a whole grid at once), no graph."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = self.expr(x, y, NUMPY_MATH)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), np.broadcast(x, y).shape)

    def value(self, point: Any) -> float:
        """f at one point, as a float."""
        x, y = (float(v) for v in np.asarray(point, dtype=np.float64).reshape(2))
        return float(self.numpy(x, y))

    def gradient(self, point: Any) -> np.ndarray:
        """The analytic gradient (by backpropagation, in float64) at one point."""
        p = Tensor(np.asarray(point, dtype=np.float64).reshape(2).copy(), requires_grad=True)
        self(p).backward()
        assert p.grad is not None
        return p.grad.copy()

    @property
    def start(self) -> Point:
        """The default start point."""
        return self.starts[0]

    @property
    def bounds(self) -> Box:
        """The box whose leaving counts as divergence: the domain grown 5 half-widths each side."""
        x0, x1, y0, y1 = self.domain
        hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
        return (x0 - 5 * hx, x1 + 5 * hx, y0 - 5 * hy, y1 + 5 * hy)

    @property
    def unbounded_below(self) -> bool:
        """True where leaving the bounds means descending, not diverging (the saddle)."""
        return self.f_min is None and self.target is not None

    def distance_to_minimum(self, point: Any) -> float | None:
        """Euclidean distance to the nearest listed global minimum (None if none is known)."""
        if not self.minima:
            return None
        p = np.asarray(point, dtype=np.float64).reshape(2)
        return float(np.min(np.linalg.norm(np.asarray(self.minima) - p, axis=1)))

    def success_threshold(self, tol: float) -> float | None:
        """The value a run must reach to count as "reached": f_min + tol, or the surface's target."""
        if self.f_min is not None:
            return self.f_min + tol
        return self.target

    def describe_success(self, tol: float) -> str:
        if self.f_min is not None:
            return f"first step with f - f* <= {tol:g} (f* = {self.f_min:.10g})"
        if self.target is not None:
            return f"first step with f <= {self.target:g}"
        return "no known minimum: steps to tolerance not measured"


# ------------------------------------------------------------------------------ the formulas
def _rosenbrock(a: float, b: float) -> Callable[[Any, Any, Any], Any]:
    return lambda x, y, m: (a - x) ** 2 + b * (y - x**2) ** 2


def _beale(x: Any, y: Any, m: Any) -> Any:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(x: Any, y: Any, m: Any) -> Any:
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _rastrigin(x: Any, y: Any, m: Any) -> Any:
    return 20 + (x**2 - 10 * m.cos(2 * math.pi * x)) + (y**2 - 10 * m.cos(2 * math.pi * y))


def _ackley(x: Any, y: Any, m: Any) -> Any:
    # The 1e-300 keeps the gradient at the cone tip finite (0, a valid subgradient) instead of
    # 0 * inf = NaN, which would report a run that lands exactly on the minimum as diverged.
    r = m.sqrt(0.5 * (x**2 + y**2) + 1e-300)
    c = 0.5 * (m.cos(2 * math.pi * x) + m.cos(2 * math.pi * y))
    return -20 * m.exp(-0.2 * r) - m.exp(c) + (math.e + 20)


def _booth(x: Any, y: Any, m: Any) -> Any:
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _goldstein_price(x: Any, y: Any, m: Any) -> Any:
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
    return a * b


def _six_hump_camel(x: Any, y: Any, m: Any) -> Any:
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


_BRANIN_B = 5.1 / (4 * math.pi**2)
_BRANIN_C = 5 / math.pi
_BRANIN_T = 1 / (8 * math.pi)


def _branin(x: Any, y: Any, m: Any) -> Any:
    return (y - _BRANIN_B * x**2 + _BRANIN_C * x - 6) ** 2 + 10 * (1 - _BRANIN_T) * m.cos(x) + 10


def _saddle(x: Any, y: Any, m: Any) -> Any:
    return x**2 - y**2


def _quadratic(condition: float, angle: float) -> Callable[[Any, Any, Any], Any]:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def f(x: Any, y: Any, m: Any) -> Any:
        u = c * x + s * y
        v = -s * x + c * y
        return 0.5 * (u**2 + condition * v**2)

    return f


# ------------------------------------------------------------------------------ the registry
def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
    """Rosenbrock's banana valley: (a - x)^2 + b (y - x^2)^2, minimum (a, a^2), f* = 0."""
    return Surface(
        name="rosenbrock",
        formula=f"({a:g} - x)^2 + {b:g} (y - x^2)^2",
        expr=_rosenbrock(a, b),
        domain=(-2.0, 2.0, -1.0, 3.0),
        plot_range=(-2.0, 2.0, -1.0, 3.0),
        starts=((-1.2, 1.0), (-1.5, 2.5), (1.5, -0.5)),
        minima=((a, a * a),),
        f_min=0.0,
        params={"a": a, "b": b},
        description="curved narrow valley; easy to find, slow to follow",
    )


def beale() -> Surface:
    """Beale: sharp ridges at the corners, flat middle; minimum (3, 0.5), f* = 0."""
    return Surface(
        name="beale",
        formula="(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        expr=_beale,
        domain=(-4.5, 4.5, -4.5, 4.5),
        plot_range=(-4.5, 4.5, -4.5, 4.5),
        starts=((1.0, 1.5), (-3.0, -1.0), (2.0, -2.5)),
        minima=((3.0, 0.5),),
        f_min=0.0,
        description="flat plateau and steep ridges; gradients span many orders of magnitude",
    )


def himmelblau() -> Surface:
    """Himmelblau: (x^2 + y - 11)^2 + (x + y^2 - 7)^2, four global minima with f* = 0."""
    return Surface(
        name="himmelblau",
        formula="(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        expr=_himmelblau,
        domain=(-5.0, 5.0, -5.0, 5.0),
        plot_range=(-5.0, 5.0, -5.0, 5.0),
        starts=((0.0, 0.0), (-1.0, -1.0), (1.0, -4.0)),
        minima=(
            (3.0, 2.0),
            (-2.805118086952745, 3.1313125182505726),
            (-3.779310253377746, -3.283185991286169),
            (3.5844283403304917, -1.8481265269644043),
        ),
        f_min=0.0,
        saddle_points=(),
        description="four equal global minima: which basin an optimizer picks depends on its path",
    )


def rastrigin() -> Surface:
    """Rastrigin: 20 + sum(x_i^2 - 10 cos(2 pi x_i)), a grid of local minima, global (0, 0), f* = 0."""
    return Surface(
        name="rastrigin",
        formula="20 + x^2 - 10 cos(2 pi x) + y^2 - 10 cos(2 pi y)",
        expr=_rastrigin,
        domain=(-5.12, 5.12, -5.12, 5.12),
        plot_range=(-5.12, 5.12, -5.12, 5.12),
        starts=((-2.7, 3.3), (4.4, -4.2), (0.6, 0.4)),
        minima=((0.0, 0.0),),
        f_min=0.0,
        description="egg-crate of local minima on a bowl; gradient methods stop in the nearest one",
    )


def ackley() -> Surface:
    """Ackley: a bumpy cone, global minimum (0, 0) with f* = 0 (not differentiable there)."""
    return Surface(
        name="ackley",
        formula="-20 exp(-0.2 sqrt((x^2 + y^2)/2)) - exp((cos 2 pi x + cos 2 pi y)/2) + e + 20",
        expr=_ackley,
        domain=(-5.0, 5.0, -5.0, 5.0),
        plot_range=(-5.0, 5.0, -5.0, 5.0),
        starts=((-3.5, 2.5), (3.2, 4.1), (1.3, -0.7)),
        minima=((0.0, 0.0),),
        f_min=0.0,
        smooth_minima=False,
        description="nearly flat outer region with many local minima around a sharp global one",
    )


def booth() -> Surface:
    """Booth: (x + 2y - 7)^2 + (2x + y - 5)^2, a plain quadratic bowl, minimum (1, 3), f* = 0."""
    return Surface(
        name="booth",
        formula="(x + 2y - 7)^2 + (2x + y - 5)^2",
        expr=_booth,
        domain=(-10.0, 10.0, -10.0, 10.0),
        plot_range=(-10.0, 10.0, -10.0, 10.0),
        starts=((-8.0, 8.0), (8.0, -6.0), (-6.0, -8.0)),
        minima=((1.0, 3.0),),
        f_min=0.0,
        description="a tilted quadratic bowl (condition number 9): the easy baseline",
    )


def goldstein_price() -> Surface:
    """Goldstein-Price: values from 3 to 1e6, minimum (0, -1) with f* = 3, three local minima."""
    return Surface(
        name="goldstein_price",
        formula="[1 + (x+y+1)^2 (19-14x+3x^2-14y+6xy+3y^2)] [30 + (2x-3y)^2 (18-32x+12x^2+48y-36xy+27y^2)]",
        expr=_goldstein_price,
        domain=(-2.0, 2.0, -2.0, 2.0),
        plot_range=(-2.0, 2.0, -2.0, 2.0),
        starts=((0.75, 0.75), (-0.5, 0.25), (-1.5, 1.5)),
        minima=((0.0, -1.0),),
        f_min=3.0,
        local_minima=((-0.6, -0.4), (1.8, 0.2), (1.2, 0.8)),
        description="values span six orders of magnitude; local minima with f = 30, 84, 840",
    )


def six_hump_camel() -> Surface:
    """Six-hump camel: two global minima (+-0.0898, -+0.7127) with f* = -1.0316, four local ones."""
    xm, ym = 0.08984201310031807, 0.7126564030207396
    xl, yl = 1.7036067149699812, 0.7960835686726251
    xh, yh = 1.607104752920198, 0.5686514548841313
    return Surface(
        name="six_hump_camel",
        formula="(4 - 2.1x^2 + x^4/3) x^2 + xy + (-4 + 4y^2) y^2",
        expr=_six_hump_camel,
        domain=(-3.0, 3.0, -2.0, 2.0),
        plot_range=(-2.0, 2.0, -1.1, 1.1),
        starts=((-1.2, 0.2), (-1.5, -0.5), (1.0, 0.9)),
        minima=((xm, -ym), (-xm, ym)),
        f_min=-1.0316284534898774,
        local_minima=((-xl, yl), (xl, -yl), (xh, yh), (-xh, -yh)),
        description="six minima: two global, two at f = -0.2155, two at f = 2.1043",
    )


def branin() -> Surface:
    """Branin-Hoo: three global minima (-pi, 12.275), (pi, 2.275), (3 pi, 2.475), f* = 5/(4 pi)."""
    return Surface(
        name="branin",
        formula="(y - 5.1/(4pi^2) x^2 + 5/pi x - 6)^2 + 10 (1 - 1/(8pi)) cos x + 10",
        expr=_branin,
        domain=(-5.0, 10.0, 0.0, 15.0),
        plot_range=(-5.0, 10.0, 0.0, 15.0),
        starts=((2.5, 12.0), (-4.0, 2.0), (8.0, 14.0)),
        minima=((-math.pi, 12.275), (math.pi, 2.275), (3 * math.pi, 2.475)),
        f_min=10 * _BRANIN_T,
        description="three equal global minima in a curved valley",
    )


def saddle() -> Surface:
    """The saddle x^2 - y^2: a stationary point at (0, 0) that is not a minimum; unbounded below."""
    return Surface(
        name="saddle",
        formula="x^2 - y^2",
        expr=_saddle,
        domain=(-1.5, 1.5, -1.5, 1.5),
        plot_range=(-1.5, 1.5, -1.5, 1.5),
        starts=((1.0, 1e-3), (1.0, -1e-3), (-1.0, 0.1)),
        saddle_points=((0.0, 0.0),),
        target=-1.0,
        description="saddle point at the origin; success = escaping it (f <= -1)",
    )


def quadratic(condition: float = 10.0, angle: float = 0.0) -> Surface:
    """Ill-conditioned quadratic 0.5 (u^2 + kappa v^2), (u, v) = (x, y) rotated by `angle` degrees."""
    if not condition >= 1:
        raise ValueError(
            f"quadratic: condition number must be >= 1, got condition={condition!r}; "
            "it is the ratio of the largest to the smallest curvature"
        )
    rot = f", axes rotated {angle:g} deg" if angle else ""
    return Surface(
        name="quadratic",
        formula=f"0.5 (x^2 + {condition:g} y^2){rot}",
        expr=_quadratic(float(condition), float(angle)),
        domain=(-2.0, 2.0, -2.0, 2.0),
        plot_range=(-2.0, 2.0, -1.5, 1.5),
        starts=((-1.5, 1.0), (1.8, -0.3), (-0.5, -1.2)),
        minima=((0.0, 0.0),),
        f_min=0.0,
        params={"condition": float(condition), "angle": float(angle)},
        description="ill-conditioned bowl (curvatures 1 and kappa): where SGD zig-zags",
    )


FUNCTIONS: dict[str, Callable[..., Surface]] = {
    "rosenbrock": rosenbrock,
    "beale": beale,
    "himmelblau": himmelblau,
    "rastrigin": rastrigin,
    "ackley": ackley,
    "booth": booth,
    "goldstein_price": goldstein_price,
    "six_hump_camel": six_hump_camel,
    "branin": branin,
    "saddle": saddle,
    "quadratic": quadratic,
}


def available_functions() -> list[str]:
    """Names accepted by `get_function` (plus ``"expr"`` for a user formula)."""
    return [*FUNCTIONS, "expr"]


def unknown_name_error(kind: str, name: str, choices: list[str]) -> ValueError:
    """A ValueError for an unknown name that lists close matches and all choices."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}{hint} (choices: {', '.join(choices)})")


def get_function(name: str, **params: float) -> Surface:
    """The surface called `name`, built with `params` (e.g. ``get_function("quadratic", condition=100)``).

    Hyphens and case are ignored (``"Goldstein-Price"`` works). Unknown names raise a ValueError
    listing the close matches.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in FUNCTIONS:
        raise unknown_name_error("function", name, list(FUNCTIONS))
    try:
        return FUNCTIONS[key](**params)
    except TypeError:
        import inspect

        accepted = list(inspect.signature(FUNCTIONS[key]).parameters)
        raise ValueError(
            f"function {key!r} got parameters {sorted(params)}; it accepts "
            f"{accepted if accepted else 'none'}"
        ) from None


def parse_function_spec(spec: str) -> Surface:
    """A surface from CLI text: ``"rosenbrock"``, ``"quadratic:condition=100,angle=30"``.

    Example:
        >>> parse_function_spec("quadratic:condition=50").params["condition"]
        50.0
    """
    name, _, rest = spec.partition(":")
    params: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(
                f"function parameter {item!r} in {spec!r} is not key=value; "
                "write e.g. 'quadratic:condition=100'"
            )
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"function parameter {key.strip()!r} in {spec!r} must be a number, got {value!r}"
            ) from None
    return get_function(name, **params)


# ------------------------------------------------------------------------------ user formulas
_ALLOWED_FUNCS = {
    "exp": 1, "log": 1, "log1p": 1, "sqrt": 1, "sin": 1, "cos": 1, "tan": 1, "tanh": 1,
    "abs": 1, "sigmoid": 1, "maximum": 2, "minimum": 2,
}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_MAX_EXPRESSION = 2000

Compiled = Callable[[Any, Any, Any], Any]


def _compile(node: ast.AST, text: str) -> Compiled:
    """Turn one whitelisted ast node into a closure f(x, y, m); anything else is a SyntaxError."""
    if isinstance(node, ast.Expression):
        return _compile(node.body, text)
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ValueError(f"expression {text!r}: only numbers are allowed, got {node.value!r}")
        c = float(node.value)  # floats make constant powers overflow fast instead of looping
        return lambda x, y, m: c
    if isinstance(node, ast.Name):
        if node.id == "x":
            return lambda x, y, m: x
        if node.id == "y":
            return lambda x, y, m: y
        if node.id in _CONSTANTS:
            c = _CONSTANTS[node.id]
            return lambda x, y, m: c
        raise ValueError(
            f"expression {text!r}: unknown name {node.id!r}; use x, y, pi, e and the functions "
            f"{', '.join(_ALLOWED_FUNCS)}"
        )
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        left, right = _compile(node.left, text), _compile(node.right, text)
        return lambda x, y, m: op(left(x, y, m), right(x, y, m))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, text)
        if isinstance(node.op, ast.USub):
            return lambda x, y, m: -inner(x, y, m)
        return inner
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _ALLOWED_FUNCS:
            shown = ast.unparse(node.func)
            raise ValueError(
                f"expression {text!r}: function {shown!r} is not allowed; "
                f"allowed: {', '.join(_ALLOWED_FUNCS)}"
            )
        name = node.func.id
        if node.keywords or len(node.args) != _ALLOWED_FUNCS[name]:
            raise ValueError(
                f"expression {text!r}: {name}() takes {_ALLOWED_FUNCS[name]} positional "
                f"argument(s), got {ast.unparse(node)!r}"
            )
        args = [_compile(a, text) for a in node.args]
        if len(args) == 1:
            (a,) = args
            return lambda x, y, m: getattr(m, name)(a(x, y, m))
        a, b = args
        return lambda x, y, m: getattr(m, name)(a(x, y, m), b(x, y, m))
    raise ValueError(
        f"expression {text!r}: {type(node).__name__} ({ast.unparse(node)!r}) is not allowed; "
        "use numbers, x, y, + - * / **, parentheses and the whitelisted functions"
    )


def expression(
    text: str,
    *,
    plot_range: Box = (-3.0, 3.0, -3.0, 3.0),
    start: Point | None = None,
    minima: tuple[Point, ...] = (),
    f_min: float | None = None,
) -> Surface:
    """A surface from a user formula in x and y, parsed safely (no `eval`).

    Allowed: numbers, ``x``, ``y``, ``pi``, ``e``, ``+ - * / **``, parentheses, and
    exp, log, log1p, sqrt, sin, cos, tan, tanh, abs, sigmoid, maximum(a, b), minimum(a, b).
    The domain is the plot range; the start defaults to 80% of the way to its top-left corner.

    Example:
        >>> s = expression("(x - 1)**2 + 10*(y + 2)**2", minima=((1, -2),), f_min=0)
        >>> s.value((1, -2))
        0.0
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expression: give a formula in x and y, e.g. 'x**2 + 10*y**2'")
    if len(text) > _MAX_EXPRESSION:
        raise ValueError(f"expression: formula longer than {_MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression {text!r} is not a valid formula: {exc.msg}") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if not names & {"x", "y"}:
        raise ValueError(f"expression {text!r} does not use x or y, so it has nothing to minimize")
    try:
        fn = _compile(tree, text)
    except RecursionError:
        raise ValueError(f"expression {text!r} is nested too deeply") from None
    x0, x1, y0, y1 = (float(v) for v in plot_range)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(
            f"expression: plot_range must be (xmin, xmax, ymin, ymax), got {plot_range}"
        )
    if start is None:
        start = (x0 + 0.1 * (x1 - x0), y0 + 0.9 * (y1 - y0))
    minima = tuple((float(a), float(b)) for a, b in minima)
    surface = Surface(
        name="expr",
        formula=text.strip(),
        expr=fn,
        domain=(x0, x1, y0, y1),
        plot_range=(x0, x1, y0, y1),
        starts=((float(start[0]), float(start[1])),),
        minima=minima,
        f_min=None if f_min is None else float(f_min),
        description="user formula",
    )
    try:
        surface.value(surface.start)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise ValueError(f"expression {text!r} cannot be evaluated: {exc}") from None
    if minima and f_min is None:
        surface = dataclasses.replace(surface, f_min=min(surface.value(q) for q in minima))
    return surface
