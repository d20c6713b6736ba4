#!/bin/sh
# test_compare_cli.sh - graft run MODEL --compare OTHER: a model against
# itself, against an edit that changes its numbers (every BatchNorm2d made
# a GroupNorm) and one that changes its output's shape (head 5).
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
model="$srcdir/tests/data/run/resnet.safetensors"
out="$builddir/tests/out/compare"
mkdir -p "$out"

. "$srcdir/tests/cli-lib.sh"

rm -f "$out"/*.safetensors
"$graft" edit "$model" -e 'head 5' -o "$out/head5.safetensors" >/dev/null 2>&1
"$graft" edit "$model" -e 'replace-all BatchNorm2d GroupNorm num_groups=1' \
	-o "$out/gn.safetensors" >/dev/null 2>&1

expect itself 0 "$graft" run "$model" --compare "$model" --threads 1
has itself out "output [2, 10]  max abs 0  cosine 1.000000  top-1 agreement 100.0% (2 of 2)"
has itself out "modules: 55 outputs compared"
if [ "$ok" -eq 1 ] && grep -q "first to drift" "$out/itself.out"; then
	ok=0
	why="a model drifts from itself"
fi
done_ itself

expect groupnorm 0 "$graft" run "$model" --compare "$out/gn.safetensors" --threads 1
has groupnorm out "first to drift: bn1"
if [ "$ok" -eq 1 ] && ! grep -qE '^conv1 +Conv2d +2x8x32x32 +0 +1\.000000$' "$out/groupnorm.out"; then
	ok=0
	why="conv1, before any change, drifts"
fi
if [ "$ok" -eq 1 ] && ! grep -qE '^bn1 +GroupNorm +2x8x32x32 +[0-9.]+ +0\.[0-9]+$' "$out/groupnorm.out"; then
	ok=0
	why="bn1 does not drift"
fi
done_ groupnorm

expect head 0 "$graft" run "$model" --compare "$out/head5.safetensors" --threads 1
has head out "output [2, 10] -> [2, 5]: the shapes differ, not compared"
has head out "53 outputs compared, 2 of OTHER without one of the same path and shape"
done_ head

expect with_output 2 "$graft" run "$model" --compare "$model" -o "$out/y.npy"
has with_output err "--compare excludes -o"
file_absent "$out/y.npy"
done_ with_output

expect missing 2 "$graft" run "$model" --compare "$out/absent.safetensors"
done_ missing

expect other_input 1 "$graft" run "$model" --compare "$srcdir/tests/data/run/vit.safetensors"
has other_input err "vit.safetensors: encoder:add: cannot broadcast"
done_ other_input

finish
