#!/bin/sh
# test_cli.sh - the graft command line: options, help, summary, exit codes.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
models="$srcdir/models"
out="$builddir/tests/out/cli"
mkdir -p "$out"

. "$srcdir/tests/cli-lib.sh"

expect version 0 "$graft" --version; has version out "graft "; has version out "matrix products: "; done_ version
expect help 0 "$graft" --help; has help out "Usage: graft MODEL"; has help out "Exit status"; done_ help
expect noargs 2 "$graft"; has noargs err "Usage:"; done_ noargs
expect badopt 2 "$graft" --frobnicate; has badopt err "unknown option '--frobnicate'"; done_ badopt
expect help_summary 0 "$graft" help summary; has help_summary out "--depth N"; done_ help_summary
expect help_nosuch 2 "$graft" help nosuch; has help_nosuch err "no help for 'nosuch'"; done_ help_nosuch
expect help_types 0 "$graft" help types; has help_types out "Conv2d"; has help_types out "MultiheadAttention"; done_ help_types
expect help_conv 0 "$graft" help Conv2d; has help_conv out "kernel_size=(required)"; has help_conv out "padding_mode='zeros'"; done_ help_conv
expect unknown_cmd 2 "$graft" sumary; has unknown_cmd err "unknown command 'sumary' (did you mean 'summary'?)"; done_ unknown_cmd
# help on a defined type, and on a type named as in PyTorch code or in lower case
expect help_defined 0 "$graft" help FusedReLU; has help_defined out "FusedReLU — a defined type: FusedReLU p=0.5 = ReLU() > Dropout(p=p)"
has help_defined out "  p=0.5"; done_ help_defined
expect help_nn 0 "$graft" help nn.Linear; has help_nn out "Linear — "; has help_nn out "in_features=(required)"; done_ help_nn
expect help_case 0 "$graft" help batchnorm2d; has help_case out "BatchNorm2d — "; done_ help_case
expect no_file 2 "$graft" summary nothere.json; has no_file err "nothere.json: No such file"; done_ no_file

# the man page's synopsis has every command and --recover
ok=1
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$srcdir/doc/graft.1" | sed 's/\\-/-/g')
for c in $("$graft" --help | sed -n 's/^  graft \([a-z-]*\).*/\1/p') --recover; do
	echo "$synopsis" | grep -q "^\.B graft $c" || { ok=0; why="the synopsis lacks graft $c"; }
done
done_ man_synopsis

# resnet18: counts from PyTorch, shapes, depth, input override
expect r18 0 "$graft" summary "$models/resnet18.json"
has r18 out "Total params: 11,689,512"; has r18 out "Trainable params: 11,689,512"
has r18 out "[1, 64, 112, 112]"; has r18 out "Total mult-adds: 1.81G"; done_ r18
expect r18_default 0 "$graft" "$models/resnet18.json"; has r18_default out "Total params: 11,689,512"; done_ r18_default
expect r18_depth1 0 "$graft" summary --depth 1 "$models/resnet18.json"
has r18_depth1 out "layer4"
if [ "$ok" -eq 1 ] && grep -q "conv2" "$out/r18_depth1.out"; then ok=0; why="depth 1 shows layer internals"; fi
done_ r18_depth1
expect r18_300 0 "$graft" summary --input 1x3x300x300 "$models/resnet18.json"
has r18_300 out "[1, 64, 150, 150]"; has r18_300 out "[1, 512, 10, 10]"; done_ r18_300
expect r18_badinput 2 "$graft" summary --input 1x3xbig "$models/resnet18.json"; has r18_badinput err "--input"; done_ r18_badinput
expect r18_json 0 "$graft" summary --json "$models/resnet18.json"
has r18_json out '"path":"layer1.0.conv1","type":"Conv2d"'; has r18_json out '"params":11689512'
has r18_json out '"ok":true'
# JSON is for programs: every module, not the table's default depth 3
has r18_json out '"path":"layer2.0.downsample.0"'; done_ r18_json
expect r18_json_depth 0 "$graft" summary --json --depth 1 "$models/resnet18.json"
has r18_json_depth out '"path":"layer1"'
if [ "$ok" -eq 1 ] && grep -q '"path":"layer1.0"' "$out/r18_json_depth.out"; then ok=0; why="--depth 1 writes layer internals"; fi
done_ r18_json_depth

# a shape break: exit 1, the table up to the failing module, the message
expect brk 1 "$graft" summary "$srcdir/tests/data/break.json"
has brk err "bn1: BatchNorm2d(num_features=16) gets 8 channels from conv1 (out_channels=8)"
has brk out "✗"; has brk out "conv1"
if [ "$ok" -eq 1 ] && grep -q "pool" "$out/brk.out"; then ok=0; why="table goes past the failing module"; fi
done_ brk
expect brk_json 1 "$graft" summary --json "$srcdir/tests/data/break.json"
has brk_json out '"ok":false'; has brk_json out '"failed":"bn1"'; done_ brk_json

finish
