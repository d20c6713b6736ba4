#!/bin/sh
# test_roundtrip_zoo.sh - the PyTorch round trip of the zoo
# (tools/check-roundtrip-zoo): the smallest model of each family, with
# seeded random weights, goes from torchvision through tools/graft-export,
# graft convert (.pth) and graft export-py back to PyTorch, which loads it
# strictly and computes what torchvision does; graft run agrees; the
# README's edits (FusedReLU, GroupNorm, head 10) give a model PyTorch loads
# strictly and that computes what graft run does. One line per model.
#
# With --all (make check-zoo-roundtrip): all the zoo models, which takes
# much longer (doc/roundtrip.md).
#
# Needs a python3 with torch, torchvision and numpy ($TORCH_PYTHON);
# without one every model is skipped. Big files stay in the build tree's
# tests/out, and only those of models that failed are kept.
: "${srcdir:=.}"
: "${builddir:=.}"
tool="$srcdir/tools/check-roundtrip-zoo"
py=${TORCH_PYTHON:-}
which=--subset
[ "$1" = --all ] && which=

if [ -z "$py" ] || ! "$py" -c 'import torch, torchvision, numpy' >/dev/null 2>&1; then
	# the models that would have run (the listing needs python3 only)
	names=$("${py:-python3}" "$tool" --list $which 2>/dev/null | cut -d' ' -f1)
	[ -n "$names" ] || names=$(cd "$srcdir/models" && ls *.json | sed 's/\.json$//')
	n=0
	for m in $names; do
		echo "skip $m: no python3 with torch, torchvision and numpy"
		n=$((n + 1))
	done
	echo "0 passed, 0 failed, $n skipped"
	exit 0
fi
out="$builddir/tests/out/roundtrip_zoo.$$"
mkdir -p "$builddir/tests/out"
exec "$py" "$tool" $which --graft "$builddir/graft" --out "$out"
