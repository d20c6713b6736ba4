#!/bin/sh
# test_run_cli.sh - graft run's command line: inputs, outputs, --top,
# --stats, --bench, a model without weights, and bad input.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/run"
out="$builddir/tests/out/run"
mkdir -p "$out"

. "$srcdir/tests/cli-lib.sh"

rm -f "$out"/*.npy
expect output 0 "$graft" run "$data/resnet.safetensors" --input "$data/resnet.x.npy" \
	-o "$out/resnet.npy"
file_exists "$out/resnet.npy"
done_ output

expect tuple 0 "$graft" run "$data/ops_attention.safetensors" --input "$data/ops_attention.x.npy" \
	--input "$data/ops_attention.x.1.npy" -o "$out/attn.npy"
file_exists "$out/attn.0.npy"
file_exists "$out/attn.6.npy"
done_ tuple

expect summary 0 "$graft" run "$data/vit.safetensors" --random 3
has summary out "output [2, 10]  mean"
done_ summary

expect top 0 "$graft" run "$data/resnet.safetensors" --top 3
has top out "  row 1:"
has top out "    3.  "
done_ top

expect stats 0 "$graft" run "$data/resnet.safetensors" --stats --threads 1
has stats out "module"
has stats out "layer1.0.conv1"
has stats out "relu #2"
has stats out "(root)"
done_ stats

expect bench 0 "$graft" run "$data/mobilenet_v2.safetensors" --bench 3 --threads 1
if [ "$ok" -eq 1 ] && ! tail -n 1 "$out/bench.out" | grep -qE '^median [0-9]+\.[0-9] ms$'; then
	ok=0
	why="last line is not 'median T ms'"
fi
done_ bench

expect init 0 "$graft" run "$srcdir/models/resnet18.json" --input-shape 1x3x32x32 --init-seed 5
has init err "has no weights: running with PyTorch's default initialisation (torch.manual_seed(5))"
has init out "output [1, 1000]"
done_ init

expect shape_mismatch 2 "$graft" run "$data/resnet.safetensors" --input "$data/vgg.x.npy" \
	--input-shape 1x3x64x64
has shape_mismatch err "vgg.x.npy is 1x3x32x32, not the --input-shape 1x3x64x64"
done_ shape_mismatch

expect too_small 1 "$graft" run "$data/alexnet.safetensors" --input-shape 1x3x4x4
has too_small err "features.0: Conv2d(kernel_size=(11, 11)"
done_ too_small

printf 'not an array' >"$out/bad.npy"
expect bad_npy 2 "$graft" run "$data/resnet.safetensors" --input "$out/bad.npy"
has bad_npy err "bad.npy: offset 0: not a NumPy .npy file"
done_ bad_npy

expect both_inputs 2 "$graft" run "$data/resnet.safetensors" --input "$data/resnet.x.npy" --random 1
has both_inputs err "exclude each other"
done_ both_inputs

expect bad_threads 2 "$graft" run "$data/resnet.safetensors" --threads 0
has bad_threads err "--threads"
done_ bad_threads

# Sizes from a file or the user are checked before allocating: too large is
# a message and exit 2, never an abort.
big=1099511627776
printf '{"graft": 1, "name": "wide", "inputs": [{"name": "x", "shape": [1, %s]}], "module": {"type": "Sequential", "children": {"0": {"type": "Linear", "in_features": %s, "out_features": 1}}}}\n' \
	$big $big >"$out/wide.json"
expect huge_linear_summary 0 "$graft" summary "$out/wide.json"
has huge_linear_summary out "Total params: 1,099,511,627,777"
done_ huge_linear_summary

expect huge_linear_run 2 "$graft" run "$out/wide.json"
has huge_linear_run err "cannot allocate 4.40 TB for a [1, 1099511627776] float32 tensor"
done_ huge_linear_run

printf '{"graft": 1, "name": "deep", "inputs": [{"name": "x", "shape": [1, 3, 1, 1]}], "module": {"type": "Sequential", "children": {"0": {"type": "Conv2d", "in_channels": 3, "out_channels": 137438953472, "kernel_size": 1}}}}\n' \
	>"$out/deep.json"
expect huge_weight_init 2 "$graft" run "$out/deep.json"
has huge_weight_init err "0.weight: cannot allocate 1.65 TB for a [137438953472, 3, 1, 1] float32 tensor"
done_ huge_weight_init

expect huge_input 2 "$graft" run "$data/resnet.safetensors" --input-shape 1x3x100000x100000
has huge_input err "input 'x': cannot allocate 120.00 GB"
done_ huge_input

expect help 0 "$graft" help run
has help out "--random SEED"
done_ help

finish
