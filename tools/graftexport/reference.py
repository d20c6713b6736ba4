"""A reference interpreter for graft documents, in PyTorch.

Runs an architecture document with given tensors, module by module and node
by node, the way graft reads it: registry types are instantiated from their
attributes, composites run their forward graph (or their children in
order), functions are looked up by their bare names.  tools/check-zoo uses
it to compare every exported model's output with PyTorch's.
"""

import builtins
import math
import operator

import torch
import torch.nn.functional as F

from . import leaves
from .jsonval import DTYPES
from .verify import attributes, find_module, is_registry

_DTYPE_BY_NAME = {v: k for k, v in DTYPES.items()}


def _torchvision_functions():
    try:
        from torchvision.models import swin_transformer as st
        from torchvision.models.video import mvit
    except ImportError:
        return {}
    from .optical_flow import index_pyramid
    found = {n: getattr(st, n) for n in ("shifted_window_attention",
                                         "_get_relative_position_bias",
                                         "_patch_merging_pad")}
    found.update({n: getattr(mvit, n) for n in ("_unsqueeze", "_squeeze", "_add_rel_pos",
                                                "_add_shortcut")})
    found["index_pyramid"] = index_pyramid
    return found


_EXTRA = None


def function(name, args=()):
    """The callable graft means by NAME, called with ARGS: math's for a
    number (math.sqrt of a size), torch's before Python's builtins for a
    tensor (torch.sum, not sum)."""
    global _EXTRA
    if _EXTRA is None:
        _EXTRA = _torchvision_functions()
    if name in _EXTRA:
        return _EXTRA[name]
    if args and isinstance(args[0], (int, float)) and callable(getattr(math, name, None)):
        return getattr(math, name)
    tensor = bool(args) and isinstance(args[0], torch.Tensor)
    for ns in (operator, F, torch, builtins) if tensor else (operator, builtins, F, torch):
        fn = getattr(ns, name, None)
        if callable(fn):
            return fn
    raise KeyError("unknown function %s" % name)


class Interpreter:
    def __init__(self, doc, tensors):
        self.doc = doc
        self.tensors = tensors
        self._leaf_cache = {}

    def value(self, v, env):
        if isinstance(v, dict):
            if "ref" in v:
                return env[v["ref"]]
            if "slice" in v:
                return slice(*[self.value(x, env) for x in v["slice"]])
            if "ellipsis" in v:
                return Ellipsis
            if "dtype" in v:
                return _DTYPE_BY_NAME[v["dtype"]]
            raise ValueError("unknown value %r" % v)
        if isinstance(v, list):
            return [self.value(x, env) for x in v]
        return v

    def run(self, *args):
        return self.call(self.doc["module"], "", args, {})

    def leaf(self, m, prefix):
        if prefix not in self._leaf_cache:
            cls = next(c for c in leaves.BY_CLASS if c.__name__ == m["type"])
            mod = cls(**attributes(m))
            own = {k[len(prefix):]: v for k, v in self.tensors.items() if k.startswith(prefix)}
            want = [n for n, _, _ in leaves.tensors_of(m["type"], attributes(m))]
            mod.load_state_dict({n: own[n] for n in want})
            self._leaf_cache[prefix] = mod.eval()
        return self._leaf_cache[prefix]

    def call(self, m, prefix, args, kwargs):
        if is_registry(m):
            return self.leaf(m, prefix)(*args, **kwargs)
        if "forward" not in m:
            if kwargs or len(args) != 1:
                raise TypeError("%s: a chain takes one input" % (prefix or "<root>"))
            x = args[0]
            for name, child in m.get("children", {}).items():
                x = self.call(child, prefix + name + ".", (x,), {})
            return x
        env = {}
        i = 0
        for name, op, target, a, kw in m["forward"]:
            if op == "placeholder":
                if i < len(args):
                    env[name] = args[i]
                elif target in kwargs:
                    env[name] = kwargs[target]
                else:
                    env[name] = self.value(a[0], env)  # the default
                i += 1
                continue
            a = self.value(a, env)
            kw = {k: self.value(v, env) for k, v in kw.items()}
            if op == "call_module":
                env[name] = self.call(find_module(m, target), prefix + target + ".", a, kw)
            elif op == "call_function":
                if target == "getitem" and isinstance(a[1], list):
                    a = [a[0], tuple(a[1])]  # x[:, 0]: a list index is a tuple of indices
                env[name] = function(target, a)(*a, **kw)
            elif op == "call_method":
                env[name] = getattr(a[0], target)(*a[1:], **kw)
            elif op == "get_attr":
                env[name] = self.tensors[prefix + target]
            elif op == "output":
                return a[0]
        raise ValueError("%s: graph without output" % (prefix or "<root>"))


def compare(out, ref, rtol=1e-4, atol=1e-4):
    """Largest absolute difference between two outputs (nested tuples ok)."""
    if isinstance(ref, torch.Tensor):
        if not isinstance(out, torch.Tensor) or out.shape != ref.shape:
            return float("inf")
        return float((out - ref).abs().max()) if ref.numel() else 0.0
    if isinstance(ref, (tuple, list)):
        if not isinstance(out, (tuple, list)) or len(out) != len(ref):
            return float("inf")
        return max([compare(a, b) for a, b in zip(out, ref)] or [0.0])
    return 0.0 if out == ref else float("inf")
