#!/bin/sh
# test_hub.sh - hub-style model folders (model.safetensors, sharded
# safetensors with their index, pytorch_model.bin and sharded .bin) opened
# as one model by every command, with PyTorch's totals; config.json shown
# escaped; the zoo match; saves to files only; hostile indexes and shards
# refused with the file, the tensor and the problem named.
#
# The folders of tests/data/hub were made by tools/make-hub-fixtures. With
# a python3 that has torch and torchvision ($TORCH_PYTHON), a zoo model is
# also made as a sharded folder and must open with its architecture;
# without one that step is skipped.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
hub="$srcdir/tests/data/hub"
out="$builddir/tests/out/hub"
rm -rf "$out"
mkdir -p "$out"
GRAFT_MODELS="$srcdir/models"
export GRAFT_MODELS

. "$srcdir/tests/cli-lib.sh"

# has_no NAME out|err TEXT: the output lacks TEXT
has_no() {
	if [ "$ok" -eq 1 ] && grep -qF -- "$3" "$out/$1.$2"; then
		ok=0
		why="$2 has: $3"
	fi
}
# sums DIR: a checksum of every file in DIR, to see that nothing changed
sums() {
	(cd "$1" && find . -type f | sort | xargs cksum)
}

params=$(sed -n 's/^params //p' "$hub/totals.txt")
buffers=$(sed -n 's/^buffers //p' "$hub/totals.txt")
# 6076 -> 6,076
params_shown=$(printf '%s' "$params" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta')
before=$(sums "$hub")

# each layout opens as one model with PyTorch's totals
for f in safetensors safetensors_sharded bin bin_sharded; do
	expect "open_$f" 0 "$graft" summary "$hub/$f"
	has "open_$f" out "Total params: $params_shown"
	has "open_$f" out "Buffers: $buffers"
	has "open_$f" err "a model folder:"
	done_ "open_$f"
done
has open_safetensors err "the weights are model.safetensors"
expect notes 0 "$graft" summary "$hub/safetensors_sharded"
has notes err "a model folder: 20 tensors in 2 shards listed in model.safetensors.index.json"
has notes out 'Config (config.json): architectures=["TinyTwoHead"], id2label={10 keys}'
has notes out 'model_type="tiny_twohead", num_labels=10'; done_ notes
expect notes_bin 0 "$graft" summary "$hub/bin_sharded"
has notes_bin err "20 tensors in 2 shards listed in pytorch_model.bin.index.json"
has_no notes_bin out "Config"; done_ notes_bin

# the zoo match applies: the architecture of tiny_twohead, its forward
zoo="$out/zoo"
mkdir -p "$zoo"
expect zoo_arch 0 "$graft" convert "$srcdir/models/tiny/tiny_twohead.safetensors" "$zoo/tiny_twohead.json"
done_ zoo_arch
for f in safetensors safetensors_sharded bin bin_sharded; do
	expect "zoo_$f" 0 env GRAFT_MODELS="$zoo" "$graft" convert "$hub/$f" "$out/$f.safetensors"
	has "zoo_$f" err "matches zoo/tiny_twohead.json"
	has "zoo_$f" out "20 tensors, $params_shown parameters"; done_ "zoo_$f"
done
# in the architecture's order, every layout gives the same bytes
expect same_bytes 0 true
same same_bytes "$out/safetensors.safetensors" "$out/safetensors_sharded.safetensors"
same same_bytes "$out/safetensors.safetensors" "$out/bin.safetensors"
same same_bytes "$out/safetensors.safetensors" "$out/bin_sharded.safetensors"; done_ same_bytes
expect zoo_summary 0 env GRAFT_MODELS="$zoo" "$graft" summary "$hub/safetensors_sharded"
has zoo_summary out "Total mult-adds:"; has zoo_summary out "Input x: 1x3x32x32"
has zoo_summary err "a model folder: 20 tensors in 2 shards listed in model.safetensors.index.json; safetensors_sharded: matches zoo/tiny_twohead.json"
done_ zoo_summary
expect zoo_run 0 env GRAFT_MODELS="$zoo" "$graft" run "$hub/bin_sharded" --random 1
done_ zoo_run

# a folder as the weights of an architecture
expect weights 0 "$graft" convert "$zoo/tiny_twohead.json" --weights "$hub/safetensors_sharded" "$out/w.safetensors"
same weights "$out/w.safetensors" "$out/safetensors.safetensors"; done_ weights
expect weights_bin 0 "$graft" summary --weights "$hub/bin" "$zoo/tiny_twohead.json"
has weights_bin out "Total params: $params_shown"; done_ weights_bin

# saved to the file named, in any format; never to a folder
expect to_pth 0 "$graft" convert "$hub/safetensors_sharded" "$out/m.pth"
has to_pth out "20 tensors"; done_ to_pth
expect to_json 0 env GRAFT_MODELS="$zoo" "$graft" convert "$hub/bin_sharded" "$out/m.json"
file_exists "$out/m.safetensors"; done_ to_json
expect edit 0 env GRAFT_MODELS="$zoo" "$graft" edit "$hub/safetensors_sharded" -e 'freeze trunk' -o "$out/e.safetensors"
file_exists "$out/e.safetensors"; done_ edit
mkdir -p "$out/dir"
expect to_folder 2 "$graft" convert "$hub/safetensors" "$out/dir"
has to_folder err "dir: a folder: graft saves a model as one file"; done_ to_folder
expect to_new_folder 2 "$graft" convert "$hub/safetensors" "$out/new/"
has to_new_folder err "a folder: graft saves a model as one file"; file_absent "$out/new"
done_ to_new_folder
cp -r "$hub/safetensors_sharded" "$out/inplace"
was=$(sums "$out/inplace")
expect in_place 2 env GRAFT_MODELS="$zoo" "$graft" edit "$out/inplace" --in-place -e 'freeze trunk'
has in_place err "a folder: graft saves a model as one file"; done_ in_place
expect in_place_same 0 test "$was" = "$(sums "$out/inplace")"; done_ in_place_same
# a shard of the folder opened is the model opened
expect onto_shard 2 env GRAFT_MODELS="$zoo" "$graft" edit "$out/inplace" -e 'freeze trunk' \
	-o "$out/inplace/model-00001-of-00002.safetensors"
has onto_shard err "inside the model folder opened"
expect onto_shard_convert 2 "$graft" convert "$out/inplace" "$out/inplace/model.pth"
has onto_shard_convert err "inside the model folder opened"; file_absent "$out/inplace/model.pth"
expect onto_shard_same 0 test "$was" = "$(sums "$out/inplace")"; done_ onto_shard

# model.safetensors comes first when the folder has pytorch_model.bin too
cp -r "$hub/safetensors" "$out/both"
cp "$hub/bin/pytorch_model.bin" "$out/both/"
expect both 0 "$graft" summary "$out/both"
has both err "the weights are model.safetensors"; done_ both

# config.json: escaped, bounded, and never in the way
cp -r "$hub/bin" "$out/config"
printf '{"model_type": "x\\u001b[2J\\u001b]0;owned\\u0007", "k\\u001b[31m": 1}' >"$out/config/config.json"
expect config_escaped 0 "$graft" summary "$out/config"
has config_escaped out 'model_type="x\x1b[2J\x1b]0;owned\x07", k\x1b[31m=1'
has_no config_escaped out "$(printf '\033')"; done_ config_escaped
printf '{"broken": ' >"$out/config/config.json"
expect config_bad 0 "$graft" summary "$out/config"
has config_bad err "config.json is not shown (not a JSON object)"; done_ config_bad
rm "$out/config/config.json"
mkfifo "$out/config/config.json"
expect config_fifo 0 timeout 20 "$graft" summary "$out/config"
has config_fifo err "config.json is not shown"; has config_fifo err "is not a regular file"
done_ config_fifo

# hostile indexes and shards: refused, naming the file, tensor and problem
st=model.safetensors.index.json
s1=model-00001-of-00002.safetensors
s2=model-00002-of-00002.safetensors
# bad NAME STATUS-TEXT SED-SCRIPT: the sharded folder with its index edited
bad() {
	rm -rf "$out/$1"
	cp -r "$hub/safetensors_sharded" "$out/$1"
	sed "$3" "$hub/safetensors_sharded/$st" >"$out/$1/$st"
	expect "$1" 2 timeout 20 "$graft" summary "$out/$1"
	has "$1" err "$2"
	done_ "$1"
}
bad dotdot "$st: weight_map: tensor 'head1.bias': file name '../$s2' has a '..' component" \
	"s|\"head1.bias\": \"$s2\"|\"head1.bias\": \"../$s2\"|"
bad absolute "tensor 'head1.bias': file name '/etc/passwd' is absolute" \
	"s|\"head1.bias\": \"$s2\"|\"head1.bias\": \"/etc/passwd\"|"
bad wrong_shard "$s2: tensor 'head1.bias' is here, but the index puts it in '$s1'" \
	"s|\"head1.bias\": \"$s2\"|\"head1.bias\": \"$s1\"|"
bad ghost "$st: tensor 'ghost.weight' is not in its shard '$s1'" \
	"s|\"weight_map\": {|\"weight_map\": {\"ghost.weight\": \"$s1\",|"
bad unlisted "$s2: tensor 'head1.bias' is not in the index" \
	"/\"head1.bias\"/d"
bad twice "weight_map: tensor 'head1.bias' is listed twice" \
	"s|\"weight_map\": {|\"weight_map\": {\"head1.bias\": \"$s2\",|"
bad no_map "$st: no \"weight_map\" object" "s|weight_map|weights|"
bad not_json "$st: not valid JSON" "s|}|]|"
bad missing "$st: shard 'model-00003-of-00002.safetensors' does not exist" \
	"s|\"head1.bias\": \"$s2\"|\"head1.bias\": \"model-00003-of-00002.safetensors\"|"

# broken_shard NAME TEXT: the sharded folder with its second shard replaced
# by what the commands before set up in $out/NAME
shard_case() {
	expect "$1" 2 timeout 20 "$graft" summary "$out/$1"
	has "$1" err "$2"
	done_ "$1"
}
copy_sharded() {
	rm -rf "$out/$1"
	cp -r "$hub/safetensors_sharded" "$out/$1"
	rm "$out/$1/$s2"
}
copy_sharded no_shard
shard_case no_shard "$st: shard '$s2' does not exist"
copy_sharded fifo_shard
mkfifo "$out/fifo_shard/$s2"
shard_case fifo_shard "$st: shard '$s2' is not a regular file"
copy_sharded dir_shard
mkdir "$out/dir_shard/$s2"
shard_case dir_shard "$st: shard '$s2' is not a regular file"
copy_sharded link_out
cp "$hub/safetensors_sharded/$s2" "$out/outside.safetensors"
ln -s ../outside.safetensors "$out/link_out/$s2"
shard_case link_out "$st: shard '$s2' leads outside the folder"
copy_sharded link_in
mkdir "$out/link_in/blobs"
cp "$hub/safetensors_sharded/$s2" "$out/link_in/blobs/"
ln -s "blobs/$s2" "$out/link_in/$s2"
expect link_in 0 "$graft" summary "$out/link_in"
has link_in out "Total params: $params_shown"; done_ link_in
copy_sharded junk_shard
printf 'not a safetensors file' >"$out/junk_shard/$s2"
shard_case junk_shard "junk_shard/$s2:"
copy_sharded bin_as_shard
cp "$hub/bin/pytorch_model.bin" "$out/bin_as_shard/$s2"
shard_case bin_as_shard "bin_as_shard/$s2:"

# the single weights file: a dangling link, a link out, a FIFO
mkdir -p "$out/dangling" "$out/single_out" "$out/single_fifo" "$out/empty"
ln -s nowhere.safetensors "$out/dangling/model.safetensors"
shard_case dangling "dangling/model.safetensors does not exist"
ln -s ../outside.safetensors "$out/single_out/model.safetensors"
shard_case single_out "single_out/model.safetensors leads outside the folder"
mkfifo "$out/single_fifo/pytorch_model.bin"
shard_case single_fifo "single_fifo/pytorch_model.bin is not a regular file"
shard_case empty "empty: a folder without model weights (graft looks for model.safetensors"

# nothing in the fixtures was written
expect untouched 0 test "$before" = "$(sums "$hub")"; done_ untouched

# a zoo model saved by PyTorch as a sharded folder opens with its
# architecture and PyTorch's totals
py=${TORCH_PYTHON:-}
if [ -n "$py" ] && "$py" -c 'import torch, torchvision' >/dev/null 2>&1; then
	expect zoo_make 0 "$py" "$srcdir/tools/make-hub-fixtures" --zoo squeezenet1_1 "$out/squeezenet1_1"
	done_ zoo_make
	zp=$(sed -n 's/^params //p' "$out/squeezenet1_1/totals.txt")
	zp_shown=$(printf '%s' "$zp" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta')
	expect zoo_torch 0 "$graft" summary "$out/squeezenet1_1"
	has zoo_torch err "squeezenet1_1: matches models/squeezenet1_1.json"
	has zoo_torch err "in 3 shards listed in model.safetensors.index.json"
	has zoo_torch out "Total params: $zp_shown"; has zoo_torch out "Total mult-adds:"
	has zoo_torch out 'architectures=["SqueezeNet"]'; done_ zoo_torch
	rm -rf "$out/squeezenet1_1"
else
	echo "skip zoo_torch: no python3 with torch and torchvision"
fi

finish
