"""L-BFGS: a quasi-Newton method that needs the loss re-evaluated (`step(closure)`), PyTorch semantics.

It is not a chain of gradient transformations: each step runs up to `max_iter` inner iterations,
each building a search direction from the last `history_size` (s, y) pairs with the two-loop
recursion (Nocedal & Wright, Algorithm 7.4), then moving a fixed `lr` along it or running a
strong-Wolfe line search (cubic interpolation, Nocedal & Wright Algorithms 3.5-3.6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from descentlab.optim.optimizer import Optimizer
from descentlab.tensor import enable_grad

__all__ = ["LBFGS"]


def _cubic_min(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
               bounds: tuple[float, float] | None = None) -> float:  # fmt: skip
    """Minimiser of the cubic through (x1, f1, f'1) and (x2, f2, f'2), kept inside `bounds`."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_sq = d1 * d1 - g1 * g2
    if d2_sq < 0:
        return (lo + hi) / 2.0
    d2 = float(np.sqrt(d2_sq))
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate: Callable[[float], tuple[float, np.ndarray]], t: float, d: np.ndarray,
                  f: float, g: np.ndarray, gtd: float, c1: float = 1e-4, c2: float = 0.9,
                  tolerance_change: float = 1e-9, max_ls: int = 25
                  ) -> tuple[float, np.ndarray, float, int]:  # fmt: skip
    """Find t with sufficient decrease (c1) and curvature (c2); returns (f, g, t, evaluations)."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evals, it = 1, 0
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g.copy(), gtd
    done = False
    # Phase 1: grow t until a bracket [t_prev, t] contains a point satisfying the conditions.
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new.copy()],
                [gtd_prev, gtd_new],
            )
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = (
                [t_prev, t],
                [f_prev, f_new],
                [g_prev, g_new.copy()],
                [gtd_prev, gtd_new],
            )
            break
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                            bounds=(t + 0.01 * (t - t_prev), t * 10))  # fmt: skip
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
    if it == max_ls:
        br, br_f, br_g, br_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    # Phase 2: shrink the bracket by cubic interpolation (zoom).
    stalled = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        # Keep t at least 10% of the bracket away from its ends, or the search crawls.
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if stalled or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            br[high], br_f[high], br_g[high], br_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                br[high], br_f[high], br_g[high], br_gtd[high] = (
                    br[low],
                    br_f[low],
                    br_g[low],
                    br_gtd[low],
                )
            br[low], br_f[low], br_g[low], br_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return br_f[low], br_g[low], br[low], evals


class LBFGS(Optimizer):
    """Limited-memory BFGS with an optional strong-Wolfe line search (PyTorch's LBFGS).

        d = -H g  (two-loop recursion over the last history_size pairs s = x' - x, y = g' - g,
                   H0 = s.y / y.y);   x <- x + t d,  t = lr (first iteration: min(1, 1/|g|_1) lr)

    Convention: PyTorch (lr=1, max_iter=20, max_eval=1.25 max_iter, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None or "strong_wolfe"); one parameter
    group; `step(closure)` re-evaluates the loss and gradients and returns the first loss.

    Example:
        >>> opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")  # doctest: +SKIP
        >>> def closure():                                                  # doctest: +SKIP
        ...     opt.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); return loss
        >>> opt.step(closure)                                               # doctest: +SKIP
    """

    def __init__(self, params: Iterable[Any], lr: float = 1.0, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:  # fmt: skip
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"invalid line_search_fn: {line_search_fn!r}; use None or 'strong_wolfe'"
            )
        for name, value in (("max_iter", max_iter), ("max_eval", max_eval),
                            ("history_size", history_size)):  # fmt: skip
            if int(value) < 1:
                raise ValueError(f"invalid {name}: {value!r}; {name} must be an integer >= 1")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))  # fmt: skip
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS supports a single parameter group")

    @property
    def _params(self) -> list[Any]:
        return self.param_groups[0]["params"]

    def _flat_grad(self) -> np.ndarray:
        parts = [np.zeros(p.data.size, p.data.dtype) if p.grad is None else
                 np.asarray(p.grad).reshape(-1) for p in self._params]  # fmt: skip
        return np.concatenate(parts)

    def _add(self, t: float, d: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p.data.size
            p.data += (d[offset : offset + n] * t).reshape(p.data.shape)
            offset += n

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; `closure` must zero grads, compute loss, backward."""
        if closure is None:
            raise ValueError("LBFGS.step needs a closure that re-evaluates the loss and gradients")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        if not self._state[0]:
            self._state[0] = {"func_evals": 0, "n_iter": 0}
        st = self._state[0]

        orig_loss = _call(closure)
        loss = _loss(orig_loss)
        evals = 1
        st["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tol_grad:
            return orig_loss
        d, t = st.get("d"), st.get("t")
        old_dirs: list[np.ndarray] = list(st.get("old_dirs", []))
        old_stps: list[np.ndarray] = list(st.get("old_stps", []))
        ro: list[float] = list(st.get("ro", []))
        h_diag = st.get("H_diag", 1.0)
        prev_g, prev_loss = st.get("prev_flat_grad"), st.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            st["n_iter"] += 1
            if st["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only when the curvature condition holds
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                al = [0.0] * len(old_dirs)
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - old_dirs[i] * al[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d = d + old_stps[i] * (al[i] - be_i)
            prev_g = g.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(np.abs(g).sum())) * lr if st["n_iter"] == 1 else lr
            gtd = float(g @ d)
            if gtd > -tol_change:  # not a descent direction
                break
            ls_evals = 0
            if group["line_search_fn"] is not None:
                x0 = [p.data.copy() for p in self._params]

                def at(step: float, x0: list[np.ndarray] = x0, d: np.ndarray = d
                       ) -> tuple[float, np.ndarray]:  # fmt: skip
                    self._add(step, d)
                    value = _loss(_call(closure))
                    grad = self._flat_grad()
                    for p, x in zip(self._params, x0):
                        np.copyto(p.data, x)
                    return value, grad

                loss, g, t, ls_evals = _strong_wolfe(at, t, d, loss, g, gtd,
                                                     max_ls=max_eval - evals)  # fmt: skip
                self._add(t, d)
                converged = np.abs(g).max() <= tol_grad
            else:
                self._add(t, d)
                converged = False
                if n_iter != max_iter:
                    loss = _loss(_call(closure))
                    g = self._flat_grad()
                    converged = np.abs(g).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            st["func_evals"] += ls_evals
            if n_iter == max_iter or evals >= max_eval or converged:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        st.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                  prev_flat_grad=prev_g, prev_loss=prev_loss)  # fmt: skip
        return orig_loss

    def state_dict(self) -> dict[str, Any]:
        """As `Optimizer.state_dict`; the (s, y) history is stacked into 2-D arrays."""
        sd = super().state_dict()
        st = sd["state"].get(0, {})
        if "old_dirs" in st:
            n = self._flat_grad().size
            for key in ("old_dirs", "old_stps"):
                st[key] = np.array(st[key]).reshape(-1, n) if st[key] else np.zeros((0, n))
            st["ro"] = [float(r) for r in st["ro"]]
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        super().load_state_dict(state_dict)
        st = self._state[0]
        for key in ("old_dirs", "old_stps"):
            if key in st:
                st[key] = [row.copy() for row in np.asarray(st[key])]


def _call(closure: Callable[[], Any]) -> Any:
    with enable_grad():
        return closure()


def _loss(value: Any) -> float:
    return float(np.asarray(getattr(value, "data", value)))
