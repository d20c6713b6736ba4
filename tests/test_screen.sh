#!/bin/sh
# test_screen.sh - the full-screen outline, driven by --script on a headless
# 100x30 screen: each case saves screens with save-screen and compares them
# with tests/screen/CASE-N.expected. GRAFT_UPDATE_SCREENS=1 rewrites the
# expected screens from what graft draws (check the diff before committing).
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$(cd "$builddir" && pwd)/graft"
expected="$(cd "$srcdir/tests/screen" && pwd)"
models="$(cd "$srcdir/models" && pwd)"
out="$builddir/tests/out/screen"
rm -rf "$out"
mkdir -p "$out/work" "$out/state" "$out/home"
out="$(cd "$out" && pwd)"
pass=0
fail=0
skip=0

# A UTF-8 locale draws the tree with box characters, as the expected
# screens have them.
utf8=$(locale -a 2>/dev/null | grep -i -m1 -E '^(C|en_US)\.utf-?8$')
if [ -z "$utf8" ]; then
	echo "skip: no UTF-8 locale"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
export LC_ALL="$utf8" XDG_STATE_HOME="$out/state" XDG_CONFIG_HOME="$out/home" HOME="$out/home"
export INPUTRC=/dev/null GRAFT_TYPES="$srcdir/lib/types.graft"
unset LINES COLUMNS

cp "$models/resnet18.json" "$models/tiny/tiny_cnn.safetensors" \
	"$srcdir/tests/data/hostile/control_names.json" "$out/work/"

# run CASE STATUS [ARGS...] < SCRIPT: runs graft on a script in a fresh
# copy of the work directory, CASE.d; the script saves screens as CASE-1, CASE-2, ... (the word
# SCREEN in the script is replaced by the next name).
run() {
	name=$1 want=$2
	shift 2
	awk -v d="$out" -v n="$name" '/SCREEN/ { i++; sub(/SCREEN/, d "/" n "-" i ".screen") }
		{ gsub(/OUTDIR/, d); print }' \
		>"$out/$name.script"
	rm -rf "$out/$name.d"
	cp -r "$out/work" "$out/$name.d"
	(cd "$out/$name.d" && "$graft" "$@" --script "$out/$name.script") >"$out/$name.out" 2>"$out/$name.err"
	got=$?
	ok=1
	why=""
	if [ "$got" -ne "$want" ]; then
		ok=0
		why="exit $got, expected $want"
	fi
	for s in "$out/$name"-*.screen; do
		[ -f "$s" ] || continue
		base=$(basename "$s" .screen)
		if [ -n "$GRAFT_UPDATE_SCREENS" ]; then
			cp "$s" "$expected/$base.expected"
		elif ! diff -u "$expected/$base.expected" "$s" >"$out/$base.diff" 2>&1; then
			ok=0
			why="$why $base differs (see $out/$base.diff)"
		fi
	done
}
# has FILE TEXT: FILE contains TEXT.
has() {
	if [ "$ok" -eq 1 ] && ! grep -qF -- "$2" "$1"; then
		ok=0
		why="$(basename "$1") lacks: $2"
	fi
}
done_() {
	if [ "$ok" -eq 1 ]; then
		echo "ok   $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1:$why"
		for d in "$out/$1"-*.diff; do
			[ -s "$d" ] && head -n 30 "$d" | sed 's/^/  | /'
		done
		head -n 5 "$out/$1.err" | sed 's/^/  | /'
		fail=$((fail + 1))
	fi
}

# Opening: the tree as deep as fits, totals, the dry run.
run open 0 resnet18.json <<'EOF'
save-screen SCREEN
EOF
done_ open

# Moving, collapsing, expanding, depth.
run navigate 0 resnet18.json <<'EOF'
j j j j j
l
save-screen SCREEN
h h
k
Enter
save-screen SCREEN
1
G
save-screen SCREEN
*
PgDn
save-screen SCREEN
-
g
Down Down
save-screen SCREEN
EOF
done_ navigate

# Search as you type, next and previous, a pattern with a dot.
run search 0 resnet18.json <<'EOF'
/
type conv2
save-screen SCREEN
Enter
n
save-screen SCREEN
N N
save-screen SCREEN
/3.1.b
save-screen SCREEN
/nothing
save-screen SCREEN
EOF
done_ search

# Search takes find's selectors; a malformed one says why.
run search_selectors 0 resnet18.json <<'EOF'
/Conv2d[kernel_size=1]
n
save-screen OUTDIR/search_selectors-1.txt
/layer4.*.relu
save-screen OUTDIR/search_selectors-2.txt
/Conv2d[kernel_size
save-screen OUTDIR/search_selectors-3.txt
EOF
has "$out/search_selectors-1.txt" "layer3.0.downsample.0"
has "$out/search_selectors-2.txt" "layer4.0.relu"
has "$out/search_selectors-3.txt" "selector: expected"
done_ search_selectors

# A change that breaks the shapes: the failing row, unknown shapes after
# it, the message; fixed in two steps; undone; redone.
run break 0 resnet18.json <<'EOF'
:replace layer2.0.conv1 Conv2d out_channels=100
save-screen SCREEN
:replace layer2.0.bn1 BatchNorm2d
save-screen SCREEN
:replace layer2.0.conv2 Conv2d
save-screen SCREEN
u
save-screen SCREEN
C-r
d
save-screen SCREEN
EOF
done_ break

# The classifier, replaced from the row with r; saved with s; quit.
run replace_save 0 resnet18.json <<'EOF'
G
r
type Linear out_features=10
save-screen SCREEN
Enter
save-screen SCREEN
s
save-screen SCREEN
Enter
save-screen SCREEN
q
:save-screen should-not-run.txt
EOF
has "$out/replace_save.d/resnet18.json" '"out_features":10'
if [ -e "$out/replace_save.d/should-not-run.txt" ]; then ok=0; why="the script went on after q"; fi
done_ replace_save

# Quitting with unsaved changes asks: n stays, y leaves.
run quit_prompt 0 resnet18.json <<'EOF'
:head 7
q
save-screen SCREEN
n
save-screen SCREEN
q
y
:save-screen should-not-run.txt
EOF
if [ -e "$out/quit_prompt.d/should-not-run.txt" ]; then ok=0; why="the script went on after q y"; fi
done_ quit_prompt

# The details pane: attributes, tensors with statistics and histograms,
# shapes; a refused command; help for a command in the output pane.
run details 0 tiny_cnn.safetensors <<'EOF'
j
i
save-screen SCREEN
G
save-screen SCREEN
J J J
:replace 8 Linear out_featurs=10
save-screen SCREEN
Esc
:help replace
save-screen SCREEN
EOF
done_ details

# Names with terminal escapes, C1 controls and bytes that are not UTF-8 are
# drawn escaped, in the outline and in the details of a module.
run hostile 0 control_names.json <<'EOF'
save-screen SCREEN
j
i
save-screen SCREEN
EOF
has "$out/hostile-1.screen" 'conv\x1b[31mred\x07'
has "$out/hostile-1.screen" 'bad\xff\xc3'
has "$out/hostile-2.screen" 'conv\x1b[31mred\x07'
if [ "$ok" -eq 1 ] && grep -q "$(printf '\033')" "$out"/hostile-*.screen; then
	ok=0
	why="a raw ESC on the screen"
fi
done_ hostile

# A model folder: its config.json in the details of the root, escaped.
cp -r "$srcdir/tests/data/hub/safetensors" "$out/hub"
printf '{"model_type": "x\\u001b[2J", "num_labels": 10}' >"$out/hub/config.json"
run folder 0 ../hub <<'EOF'
i
save-screen SCREEN
EOF
has "$out/folder-1.screen" 'model_type="x\x1b[2J", num_labels=10'
done_ folder

# Activation statistics from one forward of the engine (numbers vary with
# the CPU's arithmetic, so only their presence is checked); dropped by an
# edit.
run activations 0 tiny_cnn.safetensors <<'EOF'
A
j j j
save-screen OUTDIR/activations-1.txt
:set 0 stride=2
save-screen OUTDIR/activations-2.txt
EOF
has "$out/activations-1.txt" "Activations (random input, seed 0)"
has "$out/activations-1.txt" "1x8x32x32      mean"
if [ "$ok" -eq 1 ] && grep -q "Activations" "$out/activations-2.txt"; then
	ok=0
	why="statistics of the model before the edit still shown"
fi
done_ activations

# The drift of the edit from the model as opened (key c): none before an
# edit; after replacing the ReLUs with GELUs, none before the first and some
# from it on; dropped by the next edit.
run drift 0 tiny_cnn.safetensors <<'EOF'
c
save-screen OUTDIR/drift-1.txt
:replace-all ReLU GELU
c
save-screen OUTDIR/drift-2.txt
j
J J
save-screen OUTDIR/drift-3.txt
j j
save-screen OUTDIR/drift-4.txt
:set 0 padding=0
save-screen OUTDIR/drift-5.txt
EOF
has "$out/drift-1.txt" "drift from the model as opened: output max abs 0, cosine 1.000000, top-1 100%"
has "$out/drift-1.txt" "Drift from the model as opened (random input)"
has "$out/drift-1.txt" "  1x10           max abs 0  cosine 1.000000"
has "$out/drift-2.txt" "drift from the model as opened: output max abs"
has "$out/drift-3.txt" "  1x8x32x32      max abs 0  cosine 1.000000"
if [ "$ok" -eq 1 ] && ! grep -qE "^  1x8x32x32      max abs 0\.[0-9]+  cosine 0\.[0-9]+" "$out/drift-4.txt"; then
	ok=0
	why="no drift shown for the first GELU"
fi
if [ "$ok" -eq 1 ] && grep -q "Drift" "$out/drift-5.txt"; then
	ok=0
	why="the drift of an earlier edit still shown"
fi
done_ drift

# An input too large to run is a message, not a crash; the model stays.
run huge_input 0 resnet18.json --input 1x3x100000x100000 <<'EOF'
A
save-screen OUTDIR/huge_input-1.txt
EOF
has "$out/huge_input-1.txt" "activations: input 'x': cannot allocate 120.00 GB for a [1, 3, 100000, 100000]"
has "$out/huge_input-1.txt" "input 1x3x100000x100000"
done_ huge_input

# A locale that is not UTF-8: ASCII guides, bars and arrows.
LC_ALL=C
run ascii 0 resnet18.json <<'EOF'
i
save-screen SCREEN
EOF
LC_ALL=$utf8
done_ ascii

# The command line: completion of commands, paths, types and keywords;
# readline editing; history.
run complete 0 resnet18.json <<'EOF'
:
type rep
Tab
save-screen SCREEN
type  layer1.
Tab
save-screen SCREEN
type 0.conv1
Tab
type Conv2
Tab
Tab
save-screen SCREEN
type ker
Tab
type 5 padding=2
save-screen SCREEN
Enter
save-screen SCREEN
:
Up
C-a M-f
type -all
save-screen SCREEN
Esc
save-screen SCREEN
EOF
done_ complete

# Marks: a command with {} runs once for each marked module.
run marks 0 resnet18.json <<'EOF'
j m j m
save-screen SCREEN
:freeze {}
save-screen SCREEN
F
save-screen SCREEN
Enter
M
save-screen SCREEN
EOF
done_ marks

# Sizes: columns give way on narrow screens; a resize redraws.
run sizes 0 resnet18.json <<'EOF'
resize 72x20
save-screen SCREEN
resize 50x12
save-screen SCREEN
resize 140x30
b S
save-screen SCREEN
click 5 8
click 5 8
save-screen SCREEN
EOF
done_ sizes

# The help screen comes from the key and command tables.
run help 0 resnet18.json <<'EOF'
?
save-screen SCREEN
G
save-screen OUTDIR/help-end.txt
q
:input 1x3x300x300
save-screen SCREEN
EOF
# the end lists the editor's commands, from its own table
has "$out/help-end.txt" "save-script FILE"
has "$out/help-end.txt" "save-screen FILE"
done_ help

# A bad script line is reported with its place.
run badscript 2 resnet18.json <<'EOF'
j
NoSuchKey
EOF
has "$out/badscript.err" "badscript.script:2: unknown key 'NoSuchKey'"
done_ badscript

# 100,000 modules open, expand and search at once.
awk 'BEGIN {
	printf "{\"graft\": 1, \"name\": \"big\", \"inputs\": [{\"name\": \"x\", \"shape\": [1, 8], \"dtype\": \"float32\"}],\n"
	printf " \"module\": {\"type\": \"Sequential\", \"children\": {\n"
	for (b = 0; b < 1000; b++) {
		printf "%s\"%d\": {\"type\": \"Sequential\", \"children\": {", b ? ",\n" : "", b
		for (i = 0; i < 100; i++)
			printf "%s\"%d\": {\"type\": \"ReLU\"}", i ? ", " : "", i
		printf "}}"
	}
	printf "}}}\n"
}' >"$out/big.json"
start=$(date +%s)
run big 0 ../big.json <<'EOF'
*
G
/998.42
:replace 500.3 GELU
save-screen SCREEN
u
q
EOF
elapsed=$(($(date +%s) - start))
echo "     100,000 modules: ${elapsed}s"
if [ "$elapsed" -gt 60 ]; then ok=0; why="took ${elapsed}s"; fi
done_ big

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
