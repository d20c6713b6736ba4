"""A model of the user-model suite: how to build it, what it takes, and
one edit a user would make to it."""

from dataclasses import dataclass, field
from typing import Callable, List, Optional

import torch


@dataclass
class Input:
    """One input of a model's forward: float inputs are drawn from a normal
    distribution, integer ones uniformly from [0, high), bool ones as fair
    coin flips."""
    name: str
    shape: List[int]
    dtype: str = "float32"
    high: Optional[int] = None

    def draw(self, g, batch=None):
        """A random value of this input from the generator g; BATCH, when
        given, replaces the first dimension."""
        shape = list(self.shape)
        if batch is not None and shape:
            shape[0] = batch
        dt = getattr(torch, self.dtype)
        if dt == torch.bool:
            return torch.rand(shape, generator=g) < 0.5
        if dt.is_floating_point:
            return torch.randn(shape, generator=g).to(dt)
        return torch.randint(0, self.high or 10, shape, generator=g, dtype=dt)


@dataclass
class UserModel:
    """NAME is the fixture's name; BUILD() returns the nn.Module (the
    harness seeds torch first); EDIT is one graft edit command that must
    succeed on the model and leave it runnable."""
    name: str
    build: Callable[[], torch.nn.Module]
    inputs: List[Input] = field(default_factory=list)
    edit: Optional[str] = None
