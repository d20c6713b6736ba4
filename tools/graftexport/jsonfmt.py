"""Writing architecture documents.

``compact`` is one line with no spaces.  ``pretty`` indents the module tree
but keeps every graph node, every registry module and every tensor entry on
one line, so a diff shows one changed node as one changed line.
"""

import json

WIDTH = 100


def _one(v):
    return json.dumps(v, separators=(", ", ": "))


def compact(doc):
    return json.dumps(doc, separators=(",", ":"))


def pretty(doc):
    return _fmt(doc, 0, None) + "\n"


def _fmt(v, ind, key):
    pad = " " * (ind + 2)
    if key == "forward" and isinstance(v, list):
        return "[\n" + ",\n".join(pad + _one(r) for r in v) + "\n" + " " * ind + "]"
    if isinstance(v, dict):
        s = _one(v)
        simple = not any(isinstance(x, dict) and ("children" in x or "forward" in x)
                         for x in v.values()) and "children" not in v and "forward" not in v
        if simple and (len(s) + ind <= WIDTH or key in ("parameters", "buffers") or "type" in v):
            return s
        items = [pad + json.dumps(k) + ": " + _fmt(x, ind + 2, k) for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * ind + "}"
    return _one(v)
