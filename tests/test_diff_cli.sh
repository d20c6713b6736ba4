#!/bin/sh
# test_diff_cli.sh - graft diff: a model against itself, against its edits
# (head, replace-all), text and --json, the limit, and exit codes as diff(1).
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
model="$srcdir/tests/data/run/resnet.safetensors"
out="$builddir/tests/out/diff"
mkdir -p "$out"

. "$srcdir/tests/cli-lib.sh"

rm -f "$out"/*.safetensors
"$graft" edit "$model" -e 'head 5' -o "$out/head5.safetensors" >/dev/null 2>&1
"$graft" edit "$model" -e 'replace-all BatchNorm2d GroupNorm num_groups=1' \
	-o "$out/gn.safetensors" >/dev/null 2>&1

expect same 0 "$graft" diff "$model" "$model"
has same out "modules: the same"
has same out "tensors: 86 identical, 0 changed values"
has same out "Identical tensors (86): all of them"
done_ same

expect head 1 "$graft" diff "$model" "$out/head5.safetensors"
has head out "modules: 0 changed type, 1 changed attributes, 0 added, 0 removed"
has head out "~ fc: Linear 32→10 -> Linear 32→5"
has head out "~ fc.weight: [10, 32] -> [5, 32]"
has head out "parameters: 33,826 -> 33,661 (-165)"
has head out "Identical tensors (84): conv1, bn1, layer1, layer2, layer3, layer4"
done_ head

# The user who replaced every BatchNorm2d: a summary, then a limited list.
expect groupnorm 1 "$graft" diff "$model" "$out/gn.safetensors" --limit 3
has groupnorm out "modules: 14 changed type, 0 changed attributes, 0 added, 0 removed"
has groupnorm out "  BatchNorm2d -> GroupNorm: 14"
has groupnorm out "~ layer1.0.bn1: BatchNorm2d 8 -> GroupNorm 8 g1"
has groupnorm out "  ... and 11 more (--all lists every one)"
has groupnorm out "70 changed tensors of added, removed or retyped modules (--all lists them)"
done_ groupnorm

expect all 1 "$graft" diff "$model" "$out/gn.safetensors" --all
has all out "~ layer4.0.downsample.1: BatchNorm2d 32 -> GroupNorm 32 g1"
has all out "- layer4.0.downsample.1.running_var: only in A"
has all out "~ bn1.weight: float16 -> float32, max abs difference"
done_ all

expect json 1 "$graft" diff "$model" "$out/head5.safetensors" --json
has json out '"same":false'
has json out '"modules":{"added":0,"removed":0,"type":0,"attributes":1}'
has json out '{"key":"fc.weight","state":"shape","a":{"shape":[10,32]'
has json out '{"key":"conv1.weight","state":"identical"'
done_ json

expect json_same 0 "$graft" diff "$model" "$model" --json
has json_same out '"same":true'
done_ json_same

expect missing 2 "$graft" diff "$model" "$out/absent.safetensors"
done_ missing

expect usage 2 "$graft" diff "$model"
has usage err "Usage: graft diff A B"
done_ usage

expect bad_limit 2 "$graft" diff "$model" "$model" --limit x
has bad_limit err "--limit needs a number"
done_ bad_limit

finish
