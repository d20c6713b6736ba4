#!/bin/sh
# test_leaves.sh - the exporter's table of registry types
# (tools/graftexport/leaves.py) agrees with graft's registry: the same
# types, each with the attributes `graft help types --attrs` lists, in the
# same order. leaves.py is read as text (Python's ast), so no torch is
# needed; without python3 the test is skipped.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
if ! command -v python3 >/dev/null 2>&1; then
	echo "skip leaves: no python3"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
"$graft" help types --attrs | python3 -c '
import ast, sys

tree = ast.parse(open(sys.argv[1]).read())
readers = {}  # reader function -> attribute names of the dict it returns
for f in tree.body:
    if isinstance(f, ast.FunctionDef):
        for node in ast.walk(f):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
                readers[f.name] = [k.value for k in node.value.keys]

def rows(node):
    for row in node.elts:
        cls = row.elts[0]
        yield (cls.attr if isinstance(cls, ast.Attribute) else cls.id), row.elts[1].id

leaves = {}
for node in ast.walk(tree):
    if isinstance(node, (ast.Assign, ast.AugAssign)) and isinstance(node.value, ast.List):
        target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if getattr(target, "id", None) == "_TABLE":
            for name, reader in rows(node.value):
                leaves[name] = readers[reader]
registry = {}
for line in sys.stdin:
    name, *attrs = line.split()
    registry[name] = attrs

passed = failed = 0
for name in sorted(set(leaves) | set(registry)):
    if name not in leaves:
        why = "in the registry, not in leaves.py"
    elif name not in registry:
        why = "in leaves.py, not in the registry"
    elif leaves[name] != registry[name]:
        why = "attributes %s in leaves.py, %s in the registry" % (leaves[name], registry[name])
    else:
        passed += 1
        continue
    print("FAIL %s: %s" % (name, why))
    failed += 1
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
' "$srcdir/tools/graftexport/leaves.py"
