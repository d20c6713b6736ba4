"""Models for tests/test_export_cli.sh: what graft-export must export, or
refuse in one line."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune


class Unknown(nn.Module):
    """Calls a function graft does not have."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return torch.erfinv(torch.tanh(self.fc(x)))


class Scripted(nn.Module):
    """Holds a torch.jit.script'ed submodule."""

    def __init__(self):
        super().__init__()
        self.body = torch.jit.script(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x))


class Raises(nn.Module):
    """A forward that raises."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 1e9:
            return x
        raise ValueError("no input is good enough")


class Lazy(nn.Module):
    """LazyLinear, materialised by the exporter from the example input."""

    def __init__(self):
        super().__init__()
        self.fc = nn.LazyLinear(5)

    def forward(self, x):
        return F.relu(self.fc(x))


class Pruned(nn.Module):
    """A pruned Linear: weight_orig and weight_mask."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        prune.l1_unstructured(self.fc, "weight", amount=0.5)

    def forward(self, x):
        return self.fc(x)


class Temperature(nn.Module):
    """A 0-d input: logits divided by a temperature."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x, t):
        return self.fc(x) / t


class Scaled(nn.Module):
    """A parameter of the model's own module."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.full((4,), 2.0))

    def forward(self, x):
        return self.fc(x) * self.scale


class Heads(nn.Module):
    """Returns a dict."""

    def __init__(self):
        super().__init__()
        self.cls = nn.Linear(4, 3)
        self.reg = nn.Linear(4, 1)

    def forward(self, x):
        return {"logits": self.cls(x), "score": self.reg(x)}


class Tied(nn.Module):
    """An output layer tied to the input layer."""

    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 4, bias=False)
        self.out = nn.Linear(4, 4)
        self.out.weight = self.inp.weight

    def forward(self, x):
        return self.out(torch.relu(self.inp(x)))


def _with_shape(cls, *shape):
    def build():
        m = cls()
        m.graft_input_shape = list(shape)
        return m
    return build


unknown = _with_shape(Unknown, 2, 4)
scripted = _with_shape(Scripted, 2, 4)
raises = _with_shape(Raises, 2, 4)
lazy = _with_shape(Lazy, 2, 6)
pruned = _with_shape(Pruned, 2, 4)
temperature = Temperature
scaled = _with_shape(Scaled, 2, 4)
heads = _with_shape(Heads, 2, 4)
tied = _with_shape(Tied, 2, 4)
