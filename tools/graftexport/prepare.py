"""Making a model exportable: lazy modules materialised from the example
input, pruning made permanent.  Both change the model in place, as a user
would before saving it."""

import torch
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import prune

from . import leaves


def _materialise(model, inputs):
    lazy = [name or "<root>" for name, m in model.named_modules()
            if isinstance(m, LazyModuleMixin) and m.has_uninitialized_params()]
    if not lazy:
        return []
    with torch.no_grad():
        model(*inputs)
    return ["%s: lazy, materialised from the example input" % ", ".join(lazy)]


def _registry_order(m):
    """prune.remove registers the tensor again after the others; a type
    graft knows keeps them in its order (weight before bias)."""
    reg = leaves.lookup(m)
    if reg is None:
        return
    name, attrs = reg
    order = {n: i for i, (n, _, _) in enumerate(leaves.tensors_of(name, attrs(m)))}
    items = sorted(m._parameters.items(), key=lambda kv: order.get(kv[0], len(order)))
    m._parameters.clear()
    m._parameters.update(items)


def _unprune(model):
    notes = []
    for name, m in model.named_modules():
        for hook in list(m._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                t = hook._tensor_name
                prune.remove(m, t)
                _registry_order(m)
                notes.append("%s: pruned; exported with its effective %s (%s_orig * %s_mask)"
                             % (name or "<root>", t, t, t))
    return notes


def prepare(model, inputs):
    """Materialise MODEL's lazy modules by a run on INPUTS and make its
    pruning permanent (the pruned tensor becomes a plain parameter holding
    the effective weight).  Returns one note per change, for the user."""
    return _materialise(model, inputs) + _unprune(model)
