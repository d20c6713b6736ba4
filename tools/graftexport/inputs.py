"""The inputs of a model's forward: names, dry-run shapes and dtypes.

An input is given as ``[NAME=]SHAPE[:DTYPE]`` on the command line
(``ids=1x16:int64``, ``mask=1x16:bool``, ``1x3x224x224``), by the model's
``graft_inputs`` attribute (a list of ``(name, shape, dtype)``) or its older
``graft_input_shape`` (one float32 shape), or, from Python, as a plain shape,
a ``Spec`` or an example tensor.
"""

import inspect
from collections import namedtuple

import torch

from .jsonval import DTYPES

BY_NAME = {name: dt for dt, name in DTYPES.items()}

# name None: the next parameter of forward, in order; example: a tensor to
# trace with, or None for a random one
Spec = namedtuple("Spec", "name shape dtype example", defaults=(None,))


class InputError(Exception):
    pass


def parse_shape(text):
    """1x3x224x224 as a list of ints; "scalar" is a 0-d input."""
    if text.strip().lower() == "scalar":
        return []
    try:
        dims = [int(x) for x in text.lower().split("x")]
    except ValueError:
        raise InputError("bad shape %r: expected e.g. 1x3x224x224, or scalar" % text)
    if not dims or any(d < 0 for d in dims):
        raise InputError("bad shape %r" % text)
    return dims


def _dtype(name, where):
    if name not in BY_NAME:
        raise InputError("%s: unknown dtype %r (one of %s)" % (where, name, ", ".join(BY_NAME)))
    return name


def parse(text):
    """A Spec from ``[NAME=]SHAPE[:DTYPE]``."""
    name, _, rest = text.rpartition("=")
    shape, _, dtype = rest.partition(":")
    return Spec(name or None, parse_shape(shape), _dtype(dtype or "float32", text))


def spec_of(item):
    """A Spec from a shape (float32), a Spec, a (name, shape, dtype) tuple or a tensor."""
    if isinstance(item, torch.Tensor):
        return Spec(None, list(item.shape), DTYPES[item.dtype], item)
    if isinstance(item, Spec):
        return item._replace(shape=list(item.shape), dtype=_dtype(item.dtype, str(item.name)))
    if len(item) == 3 and isinstance(item[0], str):
        return Spec(item[0], list(item[1]), _dtype(item[2], item[0]))
    return Spec(None, [int(d) for d in item], "float32")


def of_model(model, default):
    """The Specs a model declares for itself, or [Spec(DEFAULT)]."""
    declared = getattr(model, "graft_inputs", None)
    if declared is not None:
        return [spec_of(x) for x in declared]
    return [spec_of(getattr(model, "graft_input_shape", default))]


def forward_parameters(model):
    """(name, has default) of forward's parameters that can be passed by position."""
    return [(p.name, p.default is not p.empty)
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def bind(model, specs):
    """SPECS with every name filled in, in forward's order.

    Named specs go to forward's parameter of that name, unnamed ones to the
    parameters in order; together they must fill forward's first parameters,
    each one without a default, so that graft passes them by position."""
    params = forward_parameters(model)
    names = [n for n, _ in params]
    placed = {}
    free = iter(n for n in names if n not in {s.name for s in specs if s.name})
    for s in specs:
        name = s.name or next(free, None)
        if name is None:
            raise InputError("%d inputs given, but forward takes %d" % (len(specs), len(names)))
        if name not in names:
            raise InputError("forward has no parameter %r (it takes %s)" % (name, ", ".join(names)))
        if name in placed:
            raise InputError("input %r is given twice" % name)
        placed[name] = s._replace(name=name)
    k = len(placed)
    for i, (n, has_default) in enumerate(params):
        if i < k and n not in placed:
            raise InputError("input %r is not given, but a later one is: give %r too (inputs "
                             "are passed by position)" % (n, n))
        if i >= k and not has_default:
            raise InputError("input %r is not given and has no default" % n)
    return [placed[n] for n in names[:k]]


def index_bound(model):
    """The smallest num_embeddings of MODEL's modules (2 without one): random
    token ids below it fit every table, as graft run draws them."""
    sizes = [m.num_embeddings for m in model.modules() if hasattr(m, "num_embeddings")]
    return min(sizes) if sizes else 2


def example(spec, bound, generator):
    """SPEC's example tensor, or a random one: randn for floating dtypes, ids
    in [0, bound) for integers, True/False for bool."""
    if spec.example is not None:
        return spec.example
    dtype = BY_NAME[spec.dtype]
    if dtype.is_floating_point:
        return torch.randn(spec.shape, generator=generator).to(dtype)
    high = 2 if dtype == torch.bool else bound
    return torch.randint(0, high, spec.shape, generator=generator).to(dtype)
