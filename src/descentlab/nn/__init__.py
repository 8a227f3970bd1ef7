"""Neural-network layers with PyTorch names, parameter names, shapes and default initialisation."""

from descentlab.nn import functional, init, utils
from descentlab.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from descentlab.nn.linear import Identity, Linear
from descentlab.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential

__all__ = [
    "functional", "init", "utils", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "Linear", "Identity", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
]  # fmt: skip
