"""Values in forward graphs, as JSON."""

import math

import torch
import torch.fx

DTYPES = {
    torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.float64: "float64", torch.int64: "int64", torch.int32: "int32",
    torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8", torch.bool: "bool",
}


class GraphValueError(Exception):
    pass


def encode_value(v, seen=None):
    if isinstance(v, torch.fx.Node):
        if seen is not None and v.name not in seen:
            raise GraphValueError("reference to a later node " + v.name)
        return {"ref": v.name}
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if not math.isfinite(v):  # JSON numbers cannot hold them
            return {"float": "nan" if math.isnan(v) else "inf" if v > 0 else "-inf"}
        return v
    if isinstance(v, (list, tuple)):  # torch.Size too
        return [encode_value(x, seen) for x in v]
    if isinstance(v, dict):  # fx's immutable_dict too
        if not all(isinstance(k, str) for k in v):
            raise GraphValueError("cannot write a dict with keys that are not strings in a graph")
        return {"dict": {k: encode_value(x, seen) for k, x in v.items()}}
    if isinstance(v, slice):
        return {"slice": [encode_value(v.start, seen), encode_value(v.stop, seen),
                          encode_value(v.step, seen)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    if isinstance(v, torch.dtype):
        if v not in DTYPES:
            raise GraphValueError("unsupported dtype %s" % v)
        return {"dtype": DTYPES[v]}
    raise GraphValueError("cannot write %r (%s) in a graph" % (v, type(v).__name__))
