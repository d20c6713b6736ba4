#!/bin/sh
# test_roundtrip.sh - graft and PyTorch agree: resnet18 with weights (from
# torchvision through tools/graft-export), unedited and edited with
# graft edit (head 10, ReLU -> FusedReLU, BatchNorm2d -> GroupNorm), saved
# as .pth and as export-py; PyTorch loads both with strict=True, accepts
# graft's .pth with torch.load(weights_only=True), and the exported module
# computes what torchvision's model does (unedited) and has the right output
# shape (edited); with `graft run`, graft's own forward agrees within 1e-4,
# as it does for the tiny models (models/tiny) exported by export-py and
# loaded from their bundle and from graft's .pth. Bare state_dicts of
# torchvision's deeplabv3_mobilenet_v3_large, with and without its
# auxiliary classifier, match their own architecture in the zoo.
#
# Needs a python3 with torch and torchvision ($TORCH_PYTHON); without one
# every check is skipped. Big files stay in the build tree's tests/out.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
out="$builddir/tests/out/roundtrip"
py=${TORCH_PYTHON:-}
checks="export_r18 pth_r18 zoo_match seg_state_dicts seg_match seg_match_aux weights_only strict_pth py_pth py_safetensors py_equals_torch \
	edit pth_edited py_edited graft_run"
pass=0
fail=0
skip=0

if [ -z "$py" ] || ! "$py" -c 'import torch, torchvision' >/dev/null 2>&1; then
	for c in $checks; do
		echo "skip $c: no python3 with torch and torchvision"
		skip=$((skip + 1))
	done
	echo "0 passed, 0 failed, $skip skipped"
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
GRAFT_MODELS="$srcdir/models"
export GRAFT_MODELS
tiny_abs=$(cd "$srcdir/models/tiny" && pwd)

# check NAME CMD...: runs CMD; stdout/stderr go to $out/NAME.*.
check() {
	name=$1
	shift
	if "$@" >"$out/$name.out" 2>"$out/$name.err"; then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		tail -n 8 "$out/$name.err" | sed 's/^/  | /'
		fail=$((fail + 1))
	fi
}
# skip_ NAME WHY
skip_() {
	echo "skip $1: $2"
	skip=$((skip + 1))
}
# pyrun NAME CODE: runs CODE in $out with the helpers below defined.
pyrun() {
	name=$1
	shift
	cat >"$out/$name.py" <<EOF
import importlib.util, sys, warnings
warnings.filterwarnings("ignore")
import torch, torchvision
def module(path):
    spec = importlib.util.spec_from_file_location(path.replace(".", "_"), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
def reference():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()
def sample():
    torch.manual_seed(0)
    return torch.randn(1, 3, 224, 224)
def close(a, b, tol):
    d = float((a - b).abs().max())
    print("max abs difference", d)
    assert d <= tol, d
$1
EOF
	check "$name" sh -c "cd '$out' && '$py' '$name.py' '$tiny_abs'"
}

check export_r18 "$srcdir/tools/graft-export" torchvision:resnet18 --seed 0 -o "$out/r18.safetensors"
check pth_r18 "$graft" convert "$out/r18.safetensors" "$out/r18.pth"
check zoo_match sh -c "'$graft' convert '$out/r18.pth' '$out/r18_again.safetensors' 2>&1 | grep -q 'r18.pth: the architecture graft saved inside it'"
pyrun seg_state_dicts '
for aux in (False, True):
    m = torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, aux_loss=aux)
    torch.save(m.state_dict(), "deeplab%s.pth" % ("_aux" if aux else ""))
'
for v in "" _aux; do
	check "seg_match$v" sh -c "'$graft' convert '$out/deeplab$v.pth' '$out/deeplab$v.safetensors' 2>&1 |
		grep -q 'matches .*/deeplabv3_mobilenet_v3_large$v\.json'"
	rm -f "$out/deeplab$v.pth" "$out/deeplab$v.safetensors"
done
pyrun weights_only '
sd = torch.load("r18.pth", weights_only=True)
ref = reference().state_dict()
assert list(sd) == list(ref), "keys or their order differ"
for k in ref:
    assert sd[k].dtype == ref[k].dtype and torch.equal(sd[k], ref[k]), k
assert sd["bn1.num_batches_tracked"].dtype == torch.int64
'
pyrun strict_pth '
m = torchvision.models.resnet18()
print(m.load_state_dict(torch.load("r18.pth", weights_only=True), strict=True))
'
check py_export "$graft" export-py "$out/r18.safetensors" -o "$out/r18_model.py"
pyrun py_pth '
m = module("r18_model.py").load("r18.pth")
assert not m.training
'
pyrun py_safetensors '
m = module("r18_model.py").load("r18.safetensors")
'
pyrun py_equals_torch '
m = module("r18_model.py").load("r18.pth")
with torch.no_grad():
    close(m(sample()), reference()(sample()), 1e-5)
'

# edited: the weights of the untouched layers are kept, new ones initialised
check edit "$graft" edit "$out/r18.safetensors" -e "head 10" -e "replace-all ReLU FusedReLU p=0.5" \
	-e "replace-all BatchNorm2d GroupNorm num_groups=8" -o "$out/edited.safetensors"
check pth_edited "$graft" convert "$out/edited.safetensors" "$out/edited.pth"
check py_edited_export "$graft" export-py "$out/edited.safetensors" -o "$out/edited_model.py"
pyrun py_edited '
sd = torch.load("edited.pth", weights_only=True)
mod = module("edited_model.py")
a = mod.load("edited.pth")
b = mod.load("edited.safetensors")
assert list(a.state_dict()) == list(sd)
assert not any("running_mean" in k for k in sd), "BatchNorm2d left"
assert sd["fc.weight"].shape == (10, 512)
with torch.no_grad():
    ya, yb = a(sample()), b(sample())
assert ya.shape == (1, 10), ya.shape
close(ya, yb, 0)
src = open("edited_model.py").read()
assert "class FusedReLU(nn.Sequential)" in src and "nn.GroupNorm(8, " in src
'

# graft's own forward, when this build has `graft run`
if "$graft" help run >/dev/null 2>&1; then
	check graft_run_out "$graft" run "$out/edited.safetensors" --random 0 -o "$out/y_edited.npy"
	check graft_run_r18 "$graft" run "$out/r18.pth" --random 0 -o "$out/y_r18.npy"
	for m in tiny_cnn tiny_resnet tiny_blocks tiny_twohead tiny_acts; do
		"$graft" export-py "$srcdir/models/tiny/$m.safetensors" -o "$out/$m.py" &&
			"$graft" convert "$srcdir/models/tiny/$m.safetensors" "$out/$m.pth" &&
			"$graft" run "$srcdir/models/tiny/$m.safetensors" --random 0 -o "$out/y_$m.npy"
	done >"$out/tiny.log" 2>&1
	pyrun graft_run '
try:
    import numpy as np
except ImportError:
    print("no numpy: the comparison is skipped")
    sys.exit(0)
for model, weights, y in (("r18_model.py", "r18.pth", "y_r18.npy"),
                          ("edited_model.py", "edited.pth", "y_edited.npy")):
    m = module(model).load(weights)
    with torch.no_grad():
        close(m(sample()), torch.from_numpy(np.load(y)), 1e-4)
tiny = sys.argv[1] if len(sys.argv) > 1 else "."
for name in ("tiny_cnn", "tiny_resnet", "tiny_blocks", "tiny_twohead", "tiny_acts"):
    for weights in (tiny + "/" + name + ".safetensors", name + ".pth"):
        m = module(name + ".py").load(weights)
        torch.manual_seed(0)
        x = torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            y = m(x)
        if isinstance(y, tuple):
            for i, t in enumerate(y):
                close(t, torch.from_numpy(np.load("y_%s.%d.npy" % (name, i))), 1e-4)
        else:
            close(y, torch.from_numpy(np.load("y_%s.npy" % name)), 1e-4)
'
else
	skip_ graft_run "this build has no graft run"
fi

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
