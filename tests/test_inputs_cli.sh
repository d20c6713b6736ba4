#!/bin/sh
# test_inputs_cli.sh - inputs of every dtype on the command line: --input
# for each input of summary and run (by name or in order, a shape or a
# .npy), integer token ids and a float mask, the messages for a wrong
# dtype, a missing input and an index out of range; and graft-export's
# --input NAME=SHAPE:DTYPE (with PyTorch, else those steps are skipped).
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
out="$builddir/tests/out/inputs"
mkdir -p "$out"
rm -f "$out"/*

. "$srcdir/tests/cli-lib.sh"

# npy FILE DESCR SHAPE BYTES: a .npy of the given dtype and shape whose
# data is BYTES (printf escapes).
npy() {
	h="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
	n=$((${#h} + 1))
	{
		printf '\223NUMPY\001\000'
		printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))"
		printf '%s\n' "$h"
		printf "$4"
	} >"$1"
}
# int64 little-endian bytes of small non-negative ints
i64() {
	for v in "$@"; do
		printf '\\%03o\\0\\0\\0\\0\\0\\0\\0' "$v"
	done
}

# sum over tokens of emb(ids) * mask, then a Linear, times scale (a
# keyword input with a default)
cat >"$out/bow.json" <<'EOF'
{"graft": 1, "name": "bow",
 "inputs": [{"name": "ids", "shape": [2, 4], "dtype": "int64"},
            {"name": "mask", "shape": [2, 4], "dtype": "float32"}],
 "module": {"type": "Bow", "children": {
   "emb": {"type": "Embedding", "num_embeddings": 10, "embedding_dim": 3, "padding_idx": 0},
   "fc": {"type": "Linear", "in_features": 3, "out_features": 2}},
  "forward": [
   ["ids", "placeholder", "ids", [], {}],
   ["mask", "placeholder", "mask", [], {}],
   ["scale", "placeholder", "scale", [2.0], {}],
   ["emb", "call_module", "emb", [{"ref": "ids"}], {}],
   ["unsqueeze", "call_method", "unsqueeze", [{"ref": "mask"}, -1], {}],
   ["mul", "call_function", "mul", [{"ref": "emb"}, {"ref": "unsqueeze"}], {}],
   ["sum_1", "call_method", "sum", [{"ref": "mul"}, 1], {}],
   ["fc", "call_module", "fc", [{"ref": "sum_1"}], {}],
   ["mul_1", "call_function", "mul", [{"ref": "fc"}, {"ref": "scale"}], {}],
   ["output", "output", "output", [{"ref": "mul_1"}], {}]]}}
EOF
bow="$out/bow.json"
npy "$out/ids.npy" '<i8' '(2, 4)' "$(i64 1 2 3 0 9 9 4 0)"
npy "$out/ids_big.npy" '<i8' '(2, 4)' "$(i64 1 2 3 0 9 12 4 0)"
npy "$out/ids_3x5.npy" '<i8' '(3, 5)' "$(i64 1 2 3 4 5 6 7 8 9 1 2 3 4 5 6)"
npy "$out/mask.npy" '<f4' '(2, 4)' "$(printf '\\0\\0\\200\\077%.0s' 1 2 3 4 5 6 7 8)"
npy "$out/mask_bool.npy" '|b1' '(2, 4)' '\001\001\001\000\001\001\000\000'

expect summary_named 0 "$graft" summary "$bow" --input mask=3x5 --input ids=3x5
has summary_named out "Input ids: 3x5 int64"
has summary_named out "Input mask: 3x5 float32"
has summary_named out "[3, 5, 3]"
done_ summary_named

expect summary_order 0 "$graft" summary "$bow" --input 1x7 --input 1x7
has summary_order out "Input mask: 1x7 float32"
done_ summary_order

expect summary_npy 0 "$graft" summary "$bow" --input "ids=$out/ids_3x5.npy" --input mask=3x5
has summary_npy out "Input ids: 3x5 int64"
done_ summary_npy

expect summary_no_such 2 "$graft" summary "$bow" --input tokens=1x4
has summary_no_such err "the model has no input 'tokens' (its inputs: ids, mask)"
done_ summary_no_such

expect summary_twice 2 "$graft" summary "$bow" --input ids=1x4 --input ids=1x5
has summary_twice err "input 'ids' is given twice"
done_ summary_twice

expect summary_too_many 2 "$graft" summary "$bow" --input 1x4 --input 1x4 --input 1x4
has summary_too_many err "the model takes 2 inputs"
done_ summary_too_many

expect summary_float_ids 2 "$graft" summary "$bow" --input "ids=$out/mask.npy"
has summary_float_ids err "holds float32 values; input 'ids' takes int64"
done_ summary_float_ids

# random inputs: token ids below num_embeddings
expect run_random 0 "$graft" run "$bow"
has run_random out "output [2, 2]"
done_ run_random

expect run_random_shape 0 "$graft" run "$bow" --input ids=3x6 --input mask=3x6 --random 4
has run_random_shape out "output [3, 2]"
done_ run_random_shape

expect run_files 0 "$graft" run "$bow" --input "$out/ids.npy" --input "mask=$out/mask.npy" \
	-o "$out/y.npy"
file_exists "$out/y.npy"
done_ run_files

# a floating input takes any floating .npy (float64 here), converted
npy "$out/mask64.npy" '<f8' '(2, 4)' "$(printf '\\0\\0\\0\\0\\0\\0\\360\\077%.0s' 1 2 3 4 5 6 7 8)"
expect run_float64 0 "$graft" run "$bow" --input "$out/ids.npy" --input "$out/mask64.npy" \
	-o "$out/y64.npy"
same run_float64 "$out/y.npy" "$out/y64.npy"
done_ run_float64

expect run_missing 2 "$graft" run "$bow" --input "ids=$out/ids.npy"
has run_missing err "input 'mask' is not given: add --input mask=FILE.npy"
done_ run_missing

expect run_bool_mask 2 "$graft" run "$bow" --input "$out/ids.npy" --input "$out/mask_bool.npy"
has run_bool_mask err "holds bool values; input 'mask' takes floating ones"
done_ run_bool_mask

expect run_float_ids 2 "$graft" run "$bow" --input "$out/mask.npy" --input "$out/mask.npy"
has run_float_ids err "holds float32 values; input 'ids' takes int64"
done_ run_float_ids

expect run_out_of_range 2 "$graft" run "$bow" --input "$out/ids_big.npy" --input "$out/mask.npy"
has run_out_of_range err "emb: index 12 is out of range for a table of 10 rows"
done_ run_out_of_range

# a bool mask reaches the executor as bool: the shape pass and the
# layout ops take it, arithmetic says it computes in float32
sed 's/"name": "mask", "shape": \[2, 4\], "dtype": "float32"/"name": "mask", "shape": [2, 4], "dtype": "bool"/' \
	"$bow" >"$out/bow_bool.json"
expect bool_summary 0 "$graft" summary "$out/bow_bool.json"
has bool_summary out "Input mask: 2x4 bool"
done_ bool_summary
expect bool_run 2 "$graft" run "$out/bow_bool.json" --input "$out/ids.npy" --input "$out/mask_bool.npy"
has bool_run err "mul: mul gets a bool tensor; graft run computes in float32"
done_ bool_run

# an EmbeddingBag over a flat batch cut by offsets
cat >"$out/bag.json" <<'EOF'
{"graft": 1, "name": "bag",
 "inputs": [{"name": "text", "shape": [6], "dtype": "int64"},
            {"name": "offsets", "shape": [3], "dtype": "int64"}],
 "module": {"type": "Bag", "children": {
   "bag": {"type": "EmbeddingBag", "num_embeddings": 10, "embedding_dim": 3, "mode": "sum"}},
  "forward": [
   ["text", "placeholder", "text", [], {}],
   ["offsets", "placeholder", "offsets", [], {}],
   ["bag", "call_module", "bag", [{"ref": "text"}, {"ref": "offsets"}], {}],
   ["output", "output", "output", [{"ref": "bag"}], {}]]}}
EOF
npy "$out/text.npy" '<i8' '(6,)' "$(i64 1 2 3 4 5 6)"
npy "$out/offsets.npy" '<i8' '(3,)' "$(i64 0 2 2)"
npy "$out/offsets_late.npy" '<i8' '(3,)' "$(i64 1 2 2)"
npy "$out/offsets_back.npy" '<i8' '(3,)' "$(i64 0 4 2)"
expect bag_run 0 "$graft" run "$out/bag.json" --input "$out/text.npy" --input "$out/offsets.npy"
has bag_run out "output [3, 3]"
done_ bag_run
expect bag_offsets_first 2 "$graft" run "$out/bag.json" --input "$out/text.npy" \
	--input "$out/offsets_late.npy"
has bag_offsets_first err "bag: offsets[0] is 1; it must be 0"
done_ bag_offsets_first
expect bag_offsets_order 2 "$graft" run "$out/bag.json" --input "$out/text.npy" \
	--input "$out/offsets_back.npy"
has bag_offsets_order err "bag: offsets do not split the 6 indices into bags: bag 1 is [4, 2)"
done_ bag_offsets_order

expect run_not_npy 2 "$graft" run "$bow" --input "ids=$out/ids.txt"
has run_not_npy err "--input ids=$out/ids.txt: not a shape"
done_ run_not_npy

# graft-export: --input NAME=SHAPE:DTYPE
py=${TORCH_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import torch' 2>/dev/null; then
	echo "skip export_inputs: no torch"
	finish
	exit $?
fi
export_=$srcdir/tools/graft-export
cat >"$out/models.py" <<'EOF'
import torch
from torch import nn


class Tagger(nn.Module):
    def __init__(self, max_norm=None):
        super().__init__()
        self.emb = nn.Embedding(20, 4, padding_idx=1, max_norm=max_norm)
        self.fc = nn.Linear(4, 3)

    def forward(self, ids, mask, scale=1.0):
        return self.fc(self.emb(ids) * mask.unsqueeze(-1)) * scale


def tagger():
    return Tagger()


def tagger_max_norm():
    return Tagger(max_norm=1.0)


def tagger_declared():
    m = Tagger()
    m.graft_inputs = [("ids", [2, 5], "int64"), ("mask", [2, 5], "float32")]
    return m
EOF
expect export_inputs 0 "$export_" "$out/models.py:tagger" -o "$out/tagger.json" \
	--input mask=1x6 --input ids=1x6:int64
done_ export_inputs
expect export_summary 0 "$graft" summary "$out/tagger.json"
has export_summary out "Input ids: 1x6 int64"
has export_summary out "Input mask: 1x6 float32"
done_ export_summary

expect export_declared 0 "$export_" "$out/models.py:tagger_declared" -o "$out/declared.json"
done_ export_declared
expect export_declared_summary 0 "$graft" summary "$out/declared.json"
has export_declared_summary out "Input ids: 2x5 int64"
done_ export_declared_summary

expect export_no_such 1 "$export_" "$out/models.py:tagger" -o "$out/x.json" --input tokens=1x6:int64
has export_no_such err "forward has no parameter 'tokens' (it takes ids, mask, scale)"
file_absent "$out/x.json"
done_ export_no_such

expect export_skipped 1 "$export_" "$out/models.py:tagger" -o "$out/x.json" \
	--input ids=1x6:int64 --input scale=1
has export_skipped err "input 'mask' is not given, but a later one is"
done_ export_skipped

expect export_missing 1 "$export_" "$out/models.py:tagger" -o "$out/x.json" --input ids=1x6:int64
has export_missing err "input 'mask' is not given and has no default"
done_ export_missing

expect export_dtype 1 "$export_" "$out/models.py:tagger" -o "$out/x.json" --input ids=1x6:long
has export_dtype err "unknown dtype 'long'"
done_ export_dtype

expect export_max_norm 1 "$export_" "$out/models.py:tagger_max_norm" -o "$out/x.json" \
	--input ids=1x6:int64 --input mask=1x6
has export_max_norm err "emb (Embedding): max_norm=1 renormalises the weight's rows"
file_absent "$out/x.json"
done_ export_max_norm

expect export_old_flag 1 "$export_" "$out/models.py:tagger" -o "$out/old.json" \
	--input-shape 1x6 --input-shape 1x6 --check
has export_old_flag err "the model does not run on inputs ids=1x6:float32, mask=1x6:float32"
done_ export_old_flag

finish
