"""The PyTorch-named optimizers, each a short chain of gradient transformations.

Names, arguments, defaults and update rules follow `torch.optim` (verified step by step against it
in float64); `Lion` follows its paper. In the formulas g is the gradient, p the parameter, t the
1-based step count of that parameter; "wd" is coupled (added to g) unless stated otherwise.

Example:
    >>> import numpy as np, descentlab as dl
    >>> w = dl.nn.Parameter(np.array([3.0, -1.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from descentlab.optim import transforms as T
from descentlab.optim.optimizer import Optimizer
from descentlab.optim.transforms import GradientTransformation

__all__ = [
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "Rprop",
    "ASGD",
    "Lion",
]

Params = Iterable[Any]


def _head(group: Mapping[str, Any], coupled_wd: bool = True) -> list[GradientTransformation]:
    """maximize (negate g) first, then coupled weight decay, exactly where PyTorch applies them."""
    head = [T.maximize()] if group.get("maximize", False) else []
    if coupled_wd and group.get("weight_decay", 0.0) != 0.0:
        head.append(T.add_l2(group["weight_decay"]))
    return head


def _lr(group: Mapping[str, Any]) -> GradientTransformation:
    """-lr, read from the group at every update (hyper['lr']): schedulers need no rebuild.

    Optimizers whose chain ends with it declare `_live_hyperparameters = ("lr",)`.
    """
    return T.scale_by_learning_rate()


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch).

        g <- g + wd p;   b <- g (t = 1) else momentum b + (1 - dampening) g
        d = g + momentum b (nesterov) or b;   p <- p - lr d

    Convention: PyTorch (lr outside the momentum buffer; Keras puts it inside).

    Example:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)  # doctest: +SKIP
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        parts = _head(g)
        if g["momentum"] != 0.0:
            parts.append(T.trace(g["momentum"], g["dampening"], g["nesterov"]))
        return T.chain(*parts, _lr(g))


class Adagrad(Optimizer):
    """AdaGrad (Duchi et al. 2011): a per-coordinate step that shrinks with the gradients seen so far.

        s <- s + g^2;   p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)

    Convention: PyTorch (eps=1e-10 outside the root, accumulator starts at initial_accumulator_value=0).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))  # fmt: skip

    def _check_group(self, group: dict[str, Any]) -> None:
        if group["initial_accumulator_value"] < 0:
            raise ValueError(
                f"invalid initial_accumulator_value: {group['initial_accumulator_value']!r}; "
                "must be >= 0"
            )

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """As `Optimizer.add_param_group`; the group's state exists at once, as in PyTorch's AdaGrad:
        `state[p]["sum"]` holds initial_accumulator_value and `step` is 0 before the first step.
        (PyTorch creates it in the constructor only, so a group added later fails at its first
        step there; here it starts like the others.)"""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        fresh = self._transform(group).init([p.data for p in group["params"]])
        first = len(self._state) - len(group["params"])
        for j in range(len(group["params"])):
            self._state[first + j] = {k: v[j] for k, v in fresh.items()}

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(
            *_head(g),
            T.scale_by_adagrad(g["eps"], g["initial_accumulator_value"], g["lr_decay"]),
            _lr(g),
        )


class RMSprop(Optimizer):
    """RMSProp (Hinton): divide by a running root mean square of the gradient.

        v <- alpha v + (1 - alpha) g^2;   (centered: a <- alpha a + (1 - alpha) g, v~ = v - a^2)
        d = g / (sqrt(v~) + eps);   with momentum: b <- momentum b + d, d = b;   p <- p - lr d

    Convention: PyTorch (alpha=0.99, eps=1e-8 outside the root, lr outside the momentum buffer).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))  # fmt: skip

    def _check_group(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["alpha"] <= 1.0:
            raise ValueError(f"invalid alpha: {group['alpha']!r}; alpha must be in [0, 1]")

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        parts = [T.count_steps(), *_head(g), T.scale_by_rms(g["alpha"], g["eps"], g["centered"])]
        if g["momentum"] > 0.0:
            parts.append(T.trace(g["momentum"], convention="keras"))  # zero-initialised buffer
        return T.chain(*parts, _lr(g))


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012): steps measured in the units of past steps.

        v <- rho v + (1 - rho) g^2;   d = sqrt(a + eps) / sqrt(v + eps) g;
        a <- rho a + (1 - rho) d^2;   p <- p - lr d

    Convention: PyTorch (lr=1.0, rho=0.9, eps=1e-6).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(T.count_steps(), *_head(g), T.scale_by_adadelta(g["rho"], g["eps"]), _lr(g))


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): RMSProp + momentum with bias correction; `amsgrad` keeps max(v).

        m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2   (AMSGrad: v^ <- max(v^, v))
        p <- p - lr * (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Convention: PyTorch (eps added after bias-correcting sqrt(v); Keras adds "epsilon hat" before).
    `decoupled_weight_decay=True` makes it AdamW.
    """

    _live_hyperparameters = ("lr",)

    _decoupled_default = False

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool | None = None) -> None:  # fmt: skip
        if decoupled_weight_decay is None:
            decoupled_weight_decay = self._decoupled_default
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        decoupled = g["decoupled_weight_decay"]
        parts = _head(g, coupled_wd=not decoupled)
        parts.append(T.scale_by_adam(*g["betas"], g["eps"], amsgrad=g["amsgrad"]))
        if decoupled and g["weight_decay"] != 0.0:
            parts.append(T.add_decayed_weights(g["weight_decay"]))
        return T.chain(*parts, _lr(g))


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay.

        p <- p - lr wd p - lr * (m / (1 - b1^t)) / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Convention: PyTorch (weight_decay=1e-2 by default, decay scaled by lr).
    """

    _decoupled_default = True

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)  # fmt: skip


class Adamax(Optimizer):
    """Adamax (Kingma & Ba 2015, section 7): Adam with an infinity norm.

        m <- b1 m + (1 - b1) g;   u <- max(b2 u, |g| + eps);   p <- p - lr / (1 - b1^t) * m / u

    Convention: PyTorch (lr=2e-3, eps inside the max; Keras adds it after).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(*_head(g), T.scale_by_adamax(*g["betas"], g["eps"]), _lr(g))


class NAdam(Optimizer):
    """NAdam (Dozat 2016): Adam with Nesterov momentum and a warming momentum schedule.

        mu_t = b1 (1 - 0.5 * 0.96^(t psi));   m, v as Adam;   v^ = v / (1 - b2^t)
        p <- p - lr [(1 - mu_t) / (1 - prod_{i<=t} mu_i) g + mu_{t+1} / (1 - prod_{i<=t+1} mu_i) m]
                   / (sqrt(v^) + eps)

    Convention: PyTorch (lr=2e-3, momentum_decay psi=4e-3; Keras Nadam uses psi=1).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))  # fmt: skip

    def _check_group(self, group: dict[str, Any]) -> None:
        if group["momentum_decay"] < 0:
            raise ValueError(f"invalid momentum_decay: {group['momentum_decay']!r}; must be >= 0")

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        decoupled = g["decoupled_weight_decay"]
        parts = _head(g, coupled_wd=not decoupled)
        parts.append(T.scale_by_adam(*g["betas"], g["eps"], nesterov=True,
                                     momentum_decay=g["momentum_decay"]))  # fmt: skip
        if decoupled and g["weight_decay"] != 0.0:
            parts.append(T.add_decayed_weights(g["weight_decay"]))
        return T.chain(*parts, _lr(g))


class RAdam(Optimizer):
    """RAdam (Liu et al. 2020): Adam that falls back to momentum SGD while v is too noisy.

        rho_t = rho_inf - 2 t b2^t / (1 - b2^t),  rho_inf = 2 / (1 - b2) - 1
        rho_t > 5: p <- p - lr r_t m^ sqrt(1 - b2^t) / (sqrt(v) + eps)   else  p <- p - lr m^

    Convention: PyTorch (m^ = m / (1 - b1^t); optional decoupled weight decay).
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        decoupled = g["decoupled_weight_decay"]
        parts = _head(g, coupled_wd=not decoupled)
        parts.append(T.scale_by_radam(*g["betas"], g["eps"]))
        if decoupled and g["weight_decay"] != 0.0:
            parts.append(T.add_decayed_weights(g["weight_decay"]))
        return T.chain(*parts, _lr(g))


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun 1993): sign-based, per-coordinate step sizes.

        s <- clip(s * eta+ (same sign) / eta- (sign flip) / 1, step_sizes);   g <- 0 where it flipped
        p <- p - sign(g) s          (s starts at lr)

    Convention: PyTorch (lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50)). Meant for full batches.
    """

    def __init__(self, params: Params, lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50.0), *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize))

    def _check_group(self, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"invalid etas: {group['etas']!r}; need 0 < etas[0] < 1 < etas[1]")

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(*_head(g), T.scale_by_rprop(g["lr"], g["etas"], g["step_sizes"]))


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky 1992) as in PyTorch; the average is kept in state['ax'].

        p <- p (1 - lambd eta) - eta g;   ax <- p while t <= t0, then ax + (p - ax) / (t - t0)
        eta <- lr / (1 + lambd lr t)^alpha

    Convention: PyTorch (lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6).
    """

    def __init__(self, params: Params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *,
                 maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        return T.chain(*_head(g), T.scale_by_asgd(g["lr"], g["lambd"], g["alpha"], g["t0"]))


class Lion(Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): sign of a momentum.

        c = b1 m + (1 - b1) g;   p <- p - lr (sign(c) + wd p);   m <- b2 m + (1 - b2) g

    Convention: the paper's (no PyTorch twin; Keras Lion is the same). Use a 3-10x smaller lr than
    AdamW and a larger decoupled weight decay.
    """

    _live_hyperparameters = ("lr",)

    def __init__(self, params: Params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99),
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:  # fmt: skip
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay,
                                      maximize=maximize))  # fmt: skip

    def _transform(self, g: Mapping[str, Any]) -> GradientTransformation:
        parts = _head(g, coupled_wd=False)
        parts.append(T.scale_by_lion(*g["betas"]))
        if g["weight_decay"] != 0.0:
            parts.append(T.add_decayed_weights(g["weight_decay"]))
        return T.chain(*parts, _lr(g))
