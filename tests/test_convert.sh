#!/bin/sh
# test_convert.sh - graft convert between .json + weights, bundles and .pth,
# --weights FILE.pth, bare checkpoints matched against the zoo, the zoo
# index, export-py's refusals, and hostile checkpoints on the command line.
# Needs no PyTorch (tests/test_roundtrip.sh checks the files with it).
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/pth"
out="$builddir/tests/out/convert"
rm -rf "$out"
mkdir -p "$out"
GRAFT_MODELS="$srcdir/models"
export GRAFT_MODELS

. "$srcdir/tests/cli-lib.sh"

tiny="$srcdir/models/tiny"

expect help 0 "$graft" help convert; has help out "NAME.pth, NAME.pt"; done_ help
expect usage 2 "$graft" convert onlyone.json; has usage err "Usage: graft convert"; done_ usage

# bundle -> .pth -> .json + weights -> bundle: the tensors survive unchanged
mkdir -p "$out/again"
expect to_pth 0 "$graft" convert "$tiny/tiny_resnet.safetensors" "$out/r.pth"
has to_pth out "r.pth: 38 tensors, 19,994 parameters"; done_ to_pth
expect to_json 0 "$graft" convert "$tiny/tiny_resnet.safetensors" "$out/r.json"; done_ to_json
expect json_pth_weights 0 "$graft" convert "$out/r.json" --weights "$out/r.pth" "$out/r2.safetensors"
has json_pth_weights out "38 tensors"; done_ json_pth_weights
expect back_to_pth 0 "$graft" convert "$out/r2.safetensors" "$out/again/r.pth"
same back_to_pth "$out/r.pth" "$out/again/r.pth"; done_ back_to_pth
expect summary_weights 0 "$graft" summary --weights "$out/r.pth" "$out/r.json"
has summary_weights out "Total params: 19,994"; done_ summary_weights

# no weights: a .pth cannot be written
expect no_weights 2 "$graft" convert "$srcdir/models/resnet18.json" "$out/none.pth"
has no_weights err "has no values (the model has no weights"; done_ no_weights

# --weights checked against the architecture, every problem named
expect mismatch 2 "$graft" convert "$out/r.json" --weights "$data/tiny_cnn.pth" "$out/x.pth"
has mismatch err "the weights do not match the architecture of tiny_resnet"
has mismatch err "missing 38: conv1.weight"; has mismatch err "unexpected 14: 0.weight"; done_ mismatch

# bare checkpoints: the zoo architecture with the same names and shapes
zoo="$out/zoo"
mkdir -p "$zoo"
expect zoo_arch 0 "$graft" convert "$tiny/tiny_cnn.safetensors" "$zoo/tiny_cnn.json"; done_ zoo_arch
expect zoo_match 0 env GRAFT_MODELS="$zoo" "$graft" summary "$data/tiny_cnn.pth"
has zoo_match err "tiny_cnn.pth: matches zoo/tiny_cnn.json"; has zoo_match out "Total params: 11,666"
has zoo_match out "[1, 10]"; done_ zoo_match
expect zoo_full 0 env GRAFT_MODELS="$zoo" "$graft" summary "$data/tiny_cnn_full.pth"
has zoo_full err "matches zoo/tiny_cnn.json"; done_ zoo_full
expect zoo_index 0 "$graft" convert --index "$zoo"; has zoo_index out "index.txt: 1 architectures"; done_ zoo_index
expect zoo_indexed 0 env GRAFT_MODELS="$zoo" "$graft" convert "$data/tiny_cnn.pth" "$out/c.safetensors"
has zoo_indexed err "matches zoo/tiny_cnn.json"; done_ zoo_indexed
expect bundle_back 0 "$graft" convert "$out/c.safetensors" "$out/c.pth"
has bundle_back out "14 tensors"; done_ bundle_back
# without a forward: plain safetensors, but no architecture to write
expect plain_out 0 env GRAFT_MODELS="$zoo" "$graft" convert "$data/state.pth" "$out/state.safetensors"
has plain_out out "7 tensors"; done_ plain_out
expect plain_in 0 env GRAFT_MODELS="$zoo" "$graft" convert "$out/state.safetensors" "$out/state2.pth"
has plain_in err "no zoo architecture"; done_ plain_in
expect no_arch_json 2 env GRAFT_MODELS="$zoo" "$graft" convert "$data/tiny_resnet_full.pth" "$out/x.json"
has no_arch_json err "the forward is unknown, so there is no architecture to write"; done_ no_arch_json
expect no_match 0 env GRAFT_MODELS="$zoo" "$graft" summary "$data/state.pth"
has no_match err "state.pth: no zoo architecture has these tensor names and shapes"
has no_match err "the forward is unknown"; done_ no_match
expect full_no_match 0 env GRAFT_MODELS="$zoo" "$graft" summary --depth 2 "$data/tiny_resnet_full.pth"
has full_no_match err "a pickled tiny_models.TinyResNet; no zoo architecture matches it"
has full_no_match out "BasicBlock"; done_ full_no_match
expect legacy 0 "$graft" convert "$data/legacy.pth" "$out/legacy.pth"
has legacy err "written in the format before PyTorch 1.6"; done_ legacy

# the shipped index is up to date, and models.am lists every architecture
mkdir -p "$out/models"
cp "$srcdir"/models/*.json "$out/models/"
expect index_current 0 "$graft" convert --index "$out/models"
same index_current "$out/models/index.txt" "$srcdir/models/index.txt"; done_ index_current
ok=1
for f in "$srcdir"/models/*.json; do
	grep -qF "models/$(basename "$f")" "$srcdir/models/models.am" || { ok=0; why="models.am lacks $f"; }
done
done_ models_am

# hostile checkpoints are refused with the reason, nothing runs
expect hostile 2 "$graft" convert "$data/bad/os_system.pth" "$out/x.json"
has hostile err "REDUCE calls os.system: refused"; done_ hostile
expect hostile_summary 2 "$graft" summary "$data/bad/subprocess_newobj.pth"
has hostile_summary err "NEWOBJ of subprocess.Popen: refused"; done_ hostile_summary
expect hostile_weights 2 "$graft" summary --weights "$data/bad/deep_nesting.pth" "$out/r.json"
has hostile_weights err "nesting deeper than 512 levels"; done_ hostile_weights
ok=1
[ ! -e tests/out/pwned ] || { ok=0; why="a payload ran"; }
done_ nothing_ran

# export-py: refused without a forward, Python otherwise
expect py_no_forward 2 env GRAFT_MODELS="$zoo" "$graft" export-py "$data/state.pth" -o "$out/x.py"
has py_no_forward err "the forward is unknown"; done_ py_no_forward
expect py_usage 2 "$graft" export-py "$out/r.json"; has py_usage err "Usage: graft export-py"; done_ py_usage
for m in tiny_cnn tiny_resnet tiny_blocks tiny_twohead; do
	expect "py_$m" 0 "$graft" export-py "$tiny/$m.safetensors" -o "$out/$m.py"
	if [ "$ok" -eq 1 ] && command -v python3 >/dev/null 2>&1 &&
		! python3 -m py_compile "$out/$m.py" 2>"$out/py_$m.err"; then
		ok=0
		why="$m.py does not compile"
	fi
	done_ "py_$m"
done
expect py_zoo 0 "$graft" export-py "$srcdir/models/swin_t.json" -o "$out/swin_t.py"; done_ py_zoo

finish
