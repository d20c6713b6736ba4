"""What graft knows: the module types and functions of its registry, read
from `graft help types` and `graft help functions` (graft's own lists), so
that graft-export never writes a document graft refuses."""

import os
import shutil
import subprocess

from . import leaves

HERE = os.path.dirname(os.path.realpath(__file__))


def find_graft():
    """The graft executable: $GRAFT, the one built beside tools/, or graft
    on PATH; None when there is none."""
    for path in (os.environ.get("GRAFT"), os.path.join(HERE, "..", "..", "graft"),
                 shutil.which("graft")):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _names(graft, topic):
    text = subprocess.run([graft, "help", topic], check=True, capture_output=True,
                          text=True).stdout
    return {line.split()[0] for line in text.splitlines() if line.strip()}


class Registry:
    """The names graft's registry has."""

    def __init__(self, graft):
        self.graft = graft
        self.types = _names(graft, "types")
        self.functions = _names(graft, "functions")

    def problems(self, module, path=""):
        """(path, message) for the first type or function of the document's
        MODULE (and its children) that graft does not have, or None."""
        where = "%s (%s)" % (path or "<root>", module["type"])
        if module["type"] in leaves.BY_NAME and module["type"] not in self.types:
            return "%s: graft has no module type %s (graft help types lists those it has)" \
                   % (where, module["type"])
        for row in module.get("forward", ()):
            name, op, target = row[0], row[1], row[2]
            if op in ("call_function", "call_method") and target not in self.functions:
                call = "x.%s()" % target if op == "call_method" else "%s()" % target
                return ("%s: graft has no function %s (node %s); rewrite that call with "
                        "functions graft has (graft help functions) or leave it out"
                        % (where, call, name))
        for child, sub in module.get("children", {}).items():
            found = self.problems(sub, path + "." + child if path else child)
            if found:
                return found
        return None
