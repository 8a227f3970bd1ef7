"""The lab: the 2-D optimizer playground (test surfaces, runner, plots).

Only NumPy is imported here; matplotlib loads when a figure is drawn.

Example:
    >>> from descentlab.lab import run_playground
    >>> res = run_playground("rosenbrock", "sgd,momentum,adam", steps=300, tune=True)
    >>> print(res.format_table())  # doctest: +SKIP
"""

from descentlab.lab.functions import (
    FUNCTIONS,
    Surface,
    available_functions,
    expression,
    get_function,
    parse_function_spec,
)
from descentlab.lab.playground import (
    DEFAULT_LR_GRID,
    DEFAULT_OPTIMIZERS,
    OptimizerChoice,
    PlaygroundResult,
    Run,
    parse_optimizers,
    run_playground,
)

__all__ = [
    "FUNCTIONS",
    "Surface",
    "available_functions",
    "expression",
    "get_function",
    "parse_function_spec",
    "DEFAULT_LR_GRID",
    "DEFAULT_OPTIMIZERS",
    "OptimizerChoice",
    "PlaygroundResult",
    "Run",
    "parse_optimizers",
    "run_playground",
]
