#!/bin/sh
# test_export_cli.sh - tools/graft-export on models it must export or
# refuse (tests/export/models.py): a refusal is one line naming the op or
# module and what to do, with no traceback and no file written; what it
# exports, graft opens. Needs python3 with torch ($TORCH_PYTHON): skipped
# without it.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
out="$builddir/tests/out/export_cli"
py=${TORCH_PYTHON:-}
models="$srcdir/tests/export/models.py"
rm -rf "$out"
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"
if [ -z "$py" ] || ! "$py" -c 'import torch' >/dev/null 2>&1; then
	echo "skip graft-export's checks: no python3 with torch"
	finish
	exit 0
fi
GRAFT="$builddir/graft"
export GRAFT
export_() {
	m=$1 st=$2
	shift 2
	expect "$m" "$st" "$py" "$srcdir/tools/graft-export" "$models:$m" -o "$out/$m.safetensors" "$@"
}
# one line on stderr, no traceback, no file
refused() {
	file_absent "$out/$1.safetensors"
	if [ "$ok" -eq 1 ] && { [ "$(wc -l <"$out/$1.err")" -ne 1 ] ||
		grep -q Traceback "$out/$1.err"; }; then
		ok=0
		why="not one line"
	fi
}

export_ unknown 1
has unknown err "<root> (Unknown): graft has no function erfinv()"
has unknown err "graft help functions"
refused unknown
done_ unknown

export_ scripted 1
has scripted err "body (Sequential): a TorchScript module"
refused scripted
done_ scripted

export_ raises 1
has raises err "ValueError: no input is good enough"
refused raises
done_ raises

# a torch.save'd module whose class cannot be imported
"$py" -c "
import torch
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
torch.save(Net(), '$out/gone.pt')" >/dev/null 2>&1
expect unpickle 1 "$py" "$srcdir/tools/graft-export" "$out/gone.pt" -o "$out/unpickle.safetensors"
has unpickle err "cannot be imported here"
has unpickle err "FILE.py:FUNCTION"
refused unpickle
done_ unpickle

export_ lazy 0
has lazy err "fc: lazy, materialised from the example input"
done_ lazy
expect lazy_summary 0 "$graft" summary "$out/lazy.safetensors"
has lazy_summary out "Linear 6→5"
done_ lazy_summary

export_ pruned 0
has pruned err "fc: pruned; exported with its effective weight (weight_orig * weight_mask)"
done_ pruned
expect pruned_summary 0 "$graft" summary "$out/pruned.safetensors"
has pruned_summary out "Total params: 15"
done_ pruned_summary

export_ temperature 0 --input-shape 2x4 --input-shape scalar
done_ temperature
expect temperature_run 0 "$graft" run "$out/temperature.safetensors"
has temperature_run out "output [2, 3]"
done_ temperature_run

# a parameter of the model's own module travels with the weights; without
# them graft says it starts as zeros
export_ scaled 0 --weights "$out/scaled.w.safetensors" -o "$out/scaled.json"
done_ scaled
expect scaled_run 0 "$graft" run "$out/scaled.json"
if [ "$ok" -eq 1 ] && grep -q "zeros" "$out/scaled_run.err"; then
	ok=0
	why="weights given, yet zeros"
fi
done_ scaled_run
"$py" - "$out" <<'PY' >/dev/null 2>&1
import json, sys
d = sys.argv[1]
doc = json.load(open(d + "/scaled.json"))
doc.pop("weights")
json.dump(doc, open(d + "/scaled_bare.json", "w"))
PY
expect scaled_bare 0 "$graft" run "$out/scaled_bare.json"
has scaled_bare err "1 tensor of the model's own modules starts as zeros"
has scaled_bare err "(scale)"
done_ scaled_bare

export_ heads 0
done_ heads
expect heads_run 0 "$graft" run "$out/heads.safetensors" -o "$out/y.npy"
file_exists "$out/y.logits.npy"
file_exists "$out/y.score.npy"
done_ heads_run

export_ tied 0 -o "$out/tied.json"
if [ "$ok" -eq 1 ] && ! grep -q '"tied": {"weight": "inp.weight"}' "$out/tied.json"; then
	ok=0
	why="no tie in the document"
fi
done_ tied

# a zoo model outside the classifiers, by name, with builder arguments: no
# pretrained backbone is downloaded, num_classes reaches both classifiers
expect zoo_builder 0 "$py" "$srcdir/tools/graft-export" torchvision:lraspp_mobilenet_v3_large \
	--builder-arg num_classes=3 --input-shape 1x3x64x64 -o "$out/lraspp.safetensors"
done_ zoo_builder
expect zoo_builder_summary 0 "$graft" summary "$out/lraspp.safetensors"
has zoo_builder_summary out "{out: [1, 3, 64, 64]}"
has zoo_builder_summary out "Conv2d 128→3 k1"
done_ zoo_builder_summary
expect builder_arg_bad 1 "$py" "$srcdir/tools/graft-export" torchvision:resnet18 \
	--builder-arg 3 -o "$out/builder_arg_bad.safetensors"
has builder_arg_bad err "--builder-arg '3': expected KEY=VALUE"
refused builder_arg_bad
done_ builder_arg_bad
export_ builder_arg_user 1 --builder-arg num_classes=3
has builder_arg_user err "builder arguments are for torchvision:NAME only"
refused builder_arg_user
done_ builder_arg_user

# the exporter's registry types are types graft has
expect registry 0 "$py" -c "
import subprocess, sys
sys.path.insert(0, '$srcdir/tools')
from graftexport import leaves
have = {l.split()[0] for l in subprocess.run(['$graft', 'help', 'types'], capture_output=True,
        text=True).stdout.splitlines() if l.strip()}
missing = sorted(set(leaves.BY_NAME) - have)
sys.exit('graft has no type ' + ', '.join(missing) if missing else 0)"
done_ registry
finish
