"""Consistency checks on an architecture document.

Used by graft-export on everything it writes and by tools/check-zoo.
"""

from . import leaves
from .jsonval import DTYPES


class Problem(Exception):
    pass


def is_registry(m):
    return m["type"] in leaves.BY_NAME and "children" not in m and "forward" not in m


def attributes(m):
    reserved = {"type", "children", "forward", "parameters", "buffers", "frozen"}
    return {k: v for k, v in m.items() if k not in reserved}


def tree_tensors(m, prefix=""):
    """(dotted name, shape, dtype) of every tensor, in state_dict order."""
    out = []
    if is_registry(m):
        for n, shape, dt in leaves.tensors_of(m["type"], attributes(m)):
            out.append((prefix + n, list(shape), dt))
        return out
    for n, e in m.get("parameters", {}).items():
        out.append((prefix + n, e["shape"], e["dtype"]))
    for n, e in m.get("buffers", {}).items():
        out.append((prefix + n, e["shape"], e["dtype"]))
    for n, c in m.get("children", {}).items():
        out += tree_tensors(c, prefix + n + ".")
    return out


def find_module(m, dotted):
    for part in dotted.split("."):
        ch = m.get("children", {})
        if part not in ch:
            return None
        m = ch[part]
    return m


def own_tensor_names(m):
    if is_registry(m):
        return {n for n, _, _ in leaves.tensors_of(m["type"], attributes(m))}
    return set(m.get("parameters", {})) | set(m.get("buffers", {}))


def _refs(v, out):
    if isinstance(v, dict):
        if "ref" in v:
            out.append(v["ref"])
        else:
            for x in v.values():
                _refs(x, out)
    elif isinstance(v, list):
        for x in v:
            _refs(x, out)
    return out


OPS = {"placeholder", "call_module", "call_function", "call_method", "get_attr", "output"}


def check_graph(m, path, stats=None):
    rows = m["forward"]
    seen = set()
    where = path or "<root>"
    if not rows or rows[-1][1] != "output":
        raise Problem("%s: graph does not end with an output node" % where)
    placeholders_done = False
    for row in rows:
        if not (isinstance(row, list) and len(row) == 5):
            raise Problem("%s: malformed node %r" % (where, row))
        name, op, target, args, kwargs = row
        if op not in OPS:
            raise Problem("%s: %s: unknown op %s" % (where, name, op))
        if name in seen:
            raise Problem("%s: duplicate node name %s" % (where, name))
        if op == "placeholder":
            if placeholders_done:
                raise Problem("%s: placeholder %s after other nodes" % (where, name))
        else:
            placeholders_done = True
        for r in _refs([args, kwargs], []):
            if r not in seen:
                raise Problem("%s: %s refers to %s, not an earlier node" % (where, name, r))
        if op == "call_module":
            if find_module(m, target) is None:
                raise Problem("%s: %s calls missing module %s" % (where, name, target))
        elif op == "get_attr":
            owner, _, attr = target.rpartition(".")
            mod = find_module(m, owner) if owner else m
            if mod is None or attr not in own_tensor_names(mod):
                raise Problem("%s: get_attr of missing tensor %s" % (where, target))
        if stats is not None and op in ("call_function", "call_method"):
            stats.setdefault((op, target), []).append((path, args, kwargs))
        seen.add(name)


def check_tree(m, path="", stats=None, types=None):
    if "type" not in m:
        raise Problem("%s: module without type" % (path or "<root>"))
    if types is not None:
        types.setdefault(m["type"], set()).add(is_registry(m))
    if m["type"] in leaves.BY_NAME and ("children" in m or "forward" in m):
        raise Problem("%s: registry type %s with children or forward" % (path, m["type"]))
    if "forward" in m:
        check_graph(m, path, stats)
    for n, c in m.get("children", {}).items():
        check_tree(c, path + "." + n if path else n, stats, types)


def check_against_state_dict(doc, state_dict):
    """Tree tensor paths, shapes and dtypes must equal the state_dict's, in order."""
    want = [(k, list(v.shape), DTYPES[v.dtype]) for k, v in state_dict.items()]
    have = tree_tensors(doc["module"])
    if want != have:
        wk = [k for k, _, _ in want]
        hk = [k for k, _, _ in have]
        missing = [k for k in wk if k not in hk]
        extra = [k for k in hk if k not in wk]
        if missing or extra:
            raise Problem("tensor names differ: missing %s, unexpected %s" % (missing[:5], extra[:5]))
        if wk != hk:
            raise Problem("tensor order differs from state_dict")
        bad = [(a, b) for a, b in zip(want, have) if a != b]
        raise Problem("tensor shape/dtype differs: %s" % (bad[:3],))


def check_document(doc, state_dict=None, stats=None, types=None):
    for key in ("graft", "name", "inputs", "module"):
        if key not in doc:
            raise Problem("missing key %s" % key)
    if doc["graft"] != 1:
        raise Problem("unknown format version %r" % doc["graft"])
    check_tree(doc["module"], "", stats, types)
    if state_dict is not None:
        check_against_state_dict(doc, state_dict)
