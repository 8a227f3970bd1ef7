"""Neural-network layers with PyTorch names, parameter names, shapes and default initialisation."""

from descentlab.nn import functional, init, utils
from descentlab.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from descentlab.nn.linear import Identity, Linear
from descentlab.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "utils", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "Linear", "Identity", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
]  # fmt: skip


def __getattr__(name: str):
    # Loss classes live in descentlab.losses, a layer above nn; reach them lazily (`nn.MSELoss`
    # like torch.nn) so that importing nn never imports losses.
    if name == "Loss" or name.endswith("Loss"):
        import importlib

        losses = importlib.import_module("descentlab.losses")
        if name in losses.TORCH_LOSSES or name == "Loss":
            return getattr(losses, name)
    raise AttributeError(f"module 'descentlab.nn' has no attribute {name!r}")
