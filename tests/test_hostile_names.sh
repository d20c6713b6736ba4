#!/bin/sh
# test_hostile_names.sh - names and strings from a model file are text,
# never commands: summary, edit output and error messages show control characters
# escaped (no raw ESC, BEL, DEL, C1 or stray bytes reach the terminal), and
# export-py writes every string from the file as an escaped literal, so
# importing the generated module runs nothing the file put in it. The
# import is checked with a stub torch (needs python3) and, given
# $TORCH_PYTHON, with the real one.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/hostile"
out="$builddir/tests/out/hostile"
rm -rf "$out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
. "$srcdir/tests/cli-lib.sh"
skip=0
skip_() {
	echo "skip $1: $2"
	skip=$((skip + 1))
}

# raw_controls NAME out|err: the output has a control character or a byte
# that is not text (ESC, BEL, CR, DEL, the C1 CSI, 0xff).
raw_controls() {
	for b in '\033' '\007' '\015' '\177' '\302\233' '\377'; do
		if [ "$ok" -eq 1 ] && grep -q "$(printf "$b")" "$out/$1.$2"; then
			ok=0
			why="$2 has the raw byte $b"
		fi
	done
}

expect summary 0 "$graft" summary "$data/control_names.json"
has summary out 'conv\x1b[31mred\x07'
has summary out 'csi\u009b2J'
has summary out 'del\x7f\x0d\x0a'
has summary out 'bad\xff\xc3'
has summary out 'Input x\x1b[2J'
raw_controls summary out
done_ summary

expect summary_error 1 "$graft" summary --input 1x5x8x8 "$data/control_names.json"
has summary_error err 'conv\x1b[31mred\x07: Conv2d(in_channels=3) gets 5 channels'
raw_controls summary_error err
raw_controls summary_error out
done_ summary_error

expect edit_output 0 "$graft" edit "$data/control_names.json" -e 'find Conv2d'
has edit_output out 'conv\x1b[31mred\x07'
raw_controls edit_output out
done_ edit_output

expect export_kwarg 2 "$graft" export-py "$data/export_kwarg.json" -o "$out/kwarg.py"
has export_kwarg err "is not a Python name"
file_absent "$out/kwarg.py"
done_ export_kwarg

expect export 0 "$graft" export-py "$data/export_names.json" -o "$out/hostile.py"
file_exists "$out/hostile.py"
done_ export

# The generated file parses, and every payload stayed inside a string: no
# import of os and no call of system or __import__ anywhere in its code.
py=$(command -v python3)
if [ -z "$py" ]; then
	skip_ export_parses "no python3"
	skip_ export_imports "no python3"
else
	expect export_parses 0 "$py" -c '
import ast, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
for node in ast.walk(tree):
    if isinstance(node, ast.Import):
        assert all(a.name in ("json", "struct", "math", "operator", "torch", "torch.nn.functional") for a in node.names), ast.dump(node)
    if isinstance(node, ast.ImportFrom):
        assert node.module == "torch", ast.dump(node)
    if isinstance(node, (ast.Name, ast.Attribute)):
        assert getattr(node, "id", getattr(node, "attr", "")) not in ("system", "__import__", "os"), ast.dump(node)
' "$out/hostile.py"
	done_ export_parses

	# A stub torch first on sys.path: importing the module and building the
	# model runs every line a payload could have reached.
	mkdir -p "$out/stub/torch/nn" "$out/run"
	cat >"$out/stub/torch/__init__.py" <<'EOF'
from . import nn
float32 = "float32"
def load(*a, **k):
    return {}
EOF
	cat >"$out/stub/torch/nn/__init__.py" <<'EOF'
from . import functional
class Module:
    def __init__(self, *a, **k):
        pass
    def add_module(self, name, module):
        object.__setattr__(self, name, module)
    def eval(self):
        return self
def __getattr__(name):
    return type(name, (Module,), {})
EOF
	echo 'def __getattr__(name): return lambda *a, **k: None' >"$out/stub/torch/nn/functional.py"
	expect export_imports 0 sh -c 'cd "$1/run" && PYTHONPATH="$1/stub" "$2" -c "
import importlib.util
spec = importlib.util.spec_from_file_location(\"hostile\", \"$1/hostile.py\")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
m.load()
"' sh "$out" "$py"
	for f in "$out"/run/pwned*; do
		file_absent "$f"
	done
	done_ export_imports
fi

if [ -n "${TORCH_PYTHON:-}" ] && "$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1; then
	mkdir -p "$out/torchrun"
	expect export_torch 0 sh -c 'cd "$1/torchrun" && "$2" -c "
import importlib.util
spec = importlib.util.spec_from_file_location(\"hostile\", \"$1/hostile.py\")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
model = m.load()
assert len(list(model.children())) == 2
"' sh "$out" "$TORCH_PYTHON"
	for f in "$out"/torchrun/pwned*; do
		file_absent "$f"
	done
	done_ export_torch
else
	skip_ export_torch "no python3 with torch"
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
