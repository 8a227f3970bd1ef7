"""Neural-network layers with PyTorch names, parameter names, shapes and default initialisation."""

from descentlab.nn import activations, functional, init, regularizers, utils
from descentlab.nn.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Swish,
    Tanh,
)  # fmt: skip
from descentlab.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from descentlab.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d
from descentlab.nn.embedding import Embedding
from descentlab.nn.flatten import Flatten, Unflatten
from descentlab.nn.linear import Bilinear, Identity, Linear
from descentlab.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from descentlab.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, RMSNorm
from descentlab.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool1d,
    MaxUnpool2d,
)  # fmt: skip
from descentlab.nn.summary import summary

__all__ = [
    "functional", "init", "utils", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
    "Linear", "Identity", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "activations", "regularizers", "summary", "Bilinear", "Conv1d", "Conv2d", "ConvTranspose1d",
    "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d", "Flatten", "Unflatten", "Dropout", "Dropout1d", "Dropout2d",
    "AlphaDropout", "Embedding", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm",
    "Softmin", "LeakyReLU", "PReLU", "ReLU6", "ELU", "SELU", "CELU", "GELU", "SiLU", "Swish",
    "Mish", "Softplus", "Softsign", "Hardsigmoid", "Hardtanh", "Hardswish", "LogSigmoid",
    "MaxUnpool1d", "MaxUnpool2d",
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
