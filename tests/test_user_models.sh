#!/bin/sh
# test_user_models.sh - the user-model suite (tools/usermodels; fixtures in
# tests/data/user, written by tools/make-user-fixtures): tests/test_zoo and
# tests/test_run check each model's shapes, totals and outputs against
# PyTorch; this checks the rest, for each model:
#   - its edit (NAME.edit) applies and saves, and the edited model runs;
#   - export-py writes torch.nn's containers as themselves;
#   - with torch ($TORCH_PYTHON): graft-export's code still writes the
#     fixture's architecture; the bundle converted to .pth loads
#     strictly into the PyTorch model (weights_only) and computes
#     PyTorch's outputs; export-py's module loads the bundle and computes
#     them too; export-py of the edited model computes what `graft run`
#     computes for it.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/user"
out="$builddir/tests/out/user"
py=${TORCH_PYTHON:-}
check="$srcdir/tools/check-user-roundtrip"
rm -rf "$out"
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"
names=
have_torch=0
if [ -n "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then
	have_torch=1
fi

for bundle in "$data"/*.safetensors; do
	m=$(basename "$bundle" .safetensors)
	inputs="--input $data/$m.x.npy"
	i=1
	while [ -f "$data/$m.x.$i.npy" ]; do
		inputs="$inputs --input $data/$m.x.$i.npy"
		i=$((i + 1))
	done
	edited="$out/$m.edited.safetensors"

	expect "$m.edit" 0 "$graft" edit "$bundle" -f "$data/$m.edit" -o "$edited"
	file_exists "$edited"
	done_ "$m.edit"
	# shellcheck disable=SC2086 # $inputs is a list of options
	expect "$m.edited_run" 0 "$graft" run "$edited" $inputs -o "$out/$m.edited.y.npy"
	done_ "$m.edited_run"

	# export-py writes torch.nn's containers as themselves, never as a
	# class of their name
	expect "$m.export_py" 0 "$graft" export-py "$bundle" -o "$out/$m.py"
	if [ "$ok" -eq 1 ] &&
		grep -qE '^class (Sequential|ModuleList|ModuleDict|ParameterList|ParameterDict)\(' "$out/$m.py"; then
		ok=0
		why="a torch.nn container written as a class of its own"
	fi
	done_ "$m.export_py"

	if [ "$have_torch" -eq 1 ]; then
		"$graft" convert "$bundle" "$out/$m.pth" >/dev/null 2>&1
		"$graft" export-py "$edited" -o "$out/$m.edited.py" >/dev/null 2>&1
		names="$names $m"
	fi
done
if [ "$have_torch" -eq 1 ]; then
	# shellcheck disable=SC2086 # $names is a list of models
	"$py" "$check" "$data" "$out" $names >"$out/torch.log" 2>&1
	grep -v " passed, " "$out/torch.log"
	pass=$((pass + $(grep -c '^ok ' "$out/torch.log")))
	fail=$((fail + $(grep -c '^FAIL ' "$out/torch.log")))
	tail -n 1 "$out/torch.log" | grep -q ' passed, 0 failed$' || fail=$((fail + 1))
else
	echo "skip the PyTorch checks (.pth, export-py): no python3 with torch"
fi
finish
