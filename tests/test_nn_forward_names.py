"""Every nn module's forward names its arguments as torch 2.13 does, so keyword calls such as
`layer(input=x)` work as in PyTorch."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import descentlab as dl
from descentlab import nn

# Classes with a forward of their own that torch.nn also has (containers such as ModuleList have
# none; Swish is descentlab's name for torch's SiLU).
NAMES = sorted(
    name
    for name, obj in vars(nn).items()
    if inspect.isclass(obj)
    and issubclass(obj, nn.Module)
    and obj.forward is not nn.Module.forward
    and name not in ("Swish",)
)


@pytest.mark.parametrize("name", NAMES)
def test_forward_argument_names_match_torch(name, torch):
    theirs = getattr(torch.nn, name)
    mine = [p for p in inspect.signature(getattr(nn, name).forward).parameters if p != "self"]
    torch_params = [p for p in inspect.signature(theirs.forward).parameters if p != "self"]
    assert mine[: len(torch_params)] == torch_params[: len(mine)]


def test_keyword_input_calls_work_as_in_torch():
    x = dl.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    np.testing.assert_array_equal(model(input=x).numpy(), model(x).numpy())
    assert nn.Softmax(dim=1)(input=x).shape == (2, 3)
    assert nn.Flatten()(input=x.reshape(2, 3, 1)).shape == (2, 3)
