#!/bin/sh
# test_saves.sh - what a save may and may not touch: never the input, never
# a file it was not named to write; a .json and its weights both or
# neither; symlinks written through; folders, devices and read-only files
# refused; no temporary left behind. Files are compared by hash.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
models="$srcdir/models"
data="$srcdir/tests/data"
out="$builddir/tests/out/saves"
rm -rf "$out"
mkdir -p "$out"
export XDG_STATE_HOME="$out/state" XDG_CONFIG_HOME="$out/config"

. "$srcdir/tests/cli-lib.sh"

tiny="$models/tiny/tiny_resnet.safetensors"

# unchanged NAME FILE: FILE's hash is the one recorded by `remember NAME FILE`
remember() { sha256sum "$2" >"$out/$1.sha"; }
unchanged() {
	if [ "$ok" -eq 1 ] && ! sha256sum -c --status "$out/$1.sha"; then
		ok=0
		why="$2 changed"
	fi
}
no_debris() {
	if [ "$ok" -eq 1 ] && ls -a "$1" | grep -q '\.tmp\|\.old[0-9]'; then
		ok=0
		why="temporary files left in $1: $(ls -a "$1" | grep '\.tmp\|\.old[0-9]' | head -n 3)"
	fi
}

# The weights beside a .json never replace the model opened.
mkdir -p "$out/input"
cp "$tiny" "$out/input/r.safetensors"
remember input "$out/input/r.safetensors"
expect beside_input 2 "$graft" edit "$out/input/r.safetensors" -e 'head 10' -o "$out/input/r.json"
has beside_input err "r.json: its weights would be written beside it to"
has beside_input err "the model opened"
unchanged input "$out/input/r.safetensors"; file_absent "$out/input/r.json"
no_debris "$out/input"; done_ beside_input
expect beside_input_force 2 "$graft" edit "$out/input/r.safetensors" -e 'head 10' --force \
	-o "$out/input/r.json"
unchanged input "$out/input/r.safetensors"; file_absent "$out/input/r.json"; done_ beside_input_force
expect convert_beside_input 2 "$graft" convert "$out/input/r.safetensors" "$out/input/r.json"
has convert_beside_input err "the model opened"
unchanged input "$out/input/r.safetensors"; file_absent "$out/input/r.json"; done_ convert_beside_input
expect convert_over_input 2 "$graft" convert "$out/input/r.safetensors" "$out/input/r.safetensors"
has convert_over_input err "refusing to overwrite the model converted"
unchanged input "$out/input/r.safetensors"; done_ convert_over_input

# ... nor an existing file that is not this .json's weights, without --force;
# the pair a save wrote before is replaced as a pair.
mkdir -p "$out/other"
printf 'not weights\n' >"$out/other/x.safetensors"
remember other "$out/other/x.safetensors"
expect beside_other 2 "$graft" edit "$tiny" -e 'head 10' -o "$out/other/x.json"
has beside_other err "would replace"; has beside_other err "--force"
unchanged other "$out/other/x.safetensors"; file_absent "$out/other/x.json"; done_ beside_other
expect beside_other_force 0 "$graft" edit "$tiny" -e 'head 10' --force -o "$out/other/x.json"
file_exists "$out/other/x.json"; done_ beside_other_force
expect pair_again 0 "$graft" edit "$tiny" -e 'head 7' -o "$out/other/x.json"
expect pair_again_reopen 0 "$graft" summary "$out/other/x.json"
has pair_again_reopen out "[1, 7]"; no_debris "$out/other"; done_ pair_again

# Both or neither: a .json whose weights cannot be written is not written,
# and the old .json stays.
mkdir -p "$out/pair/y.safetensors"
printf '{"old": true}\n' >"$out/pair/y.json"
remember pair "$out/pair/y.json"
expect pair_neither 2 "$graft" edit "$tiny" -e 'head 10' --force -o "$out/pair/y.json"
has pair_neither err "y.safetensors: is a folder"
unchanged pair "$out/pair/y.json"; no_debris "$out/pair"; done_ pair_neither

# A folder as the output is refused before anything is written.
mkdir -p "$out/dir/z.json" "$out/dir/b.safetensors"
expect out_folder 2 "$graft" edit "$tiny" -e 'head 10' -o "$out/dir/z.json"
has out_folder err "z.json: a folder"
file_absent "$out/dir/z.safetensors"; no_debris "$out/dir"; done_ out_folder
expect out_folder_bundle 2 "$graft" convert "$tiny" "$out/dir/b.safetensors"
has out_folder_bundle err "a folder"; no_debris "$out/dir"; done_ out_folder_bundle

# Only regular files are written (as root, rename would replace the device).
if [ -c /dev/null ]; then
	ln -s /dev/null "$out/null.safetensors"
	expect out_device 2 "$graft" convert "$tiny" "$out/null.safetensors"
	has out_device err "is not a regular file"
	[ -c /dev/null ] || { ok=0; why="/dev/null is no longer a device"; }
	done_ out_device
fi
mkfifo "$out/fifo.safetensors"
expect out_fifo 2 "$graft" convert "$tiny" "$out/fifo.safetensors"
has out_fifo err "is not a regular file"
[ -p "$out/fifo.safetensors" ] || { ok=0; why="the FIFO was replaced"; }
done_ out_fifo

# A symlink is written through: the link stays, its target gets the bytes,
# and a .json's weights go beside the target.
mkdir -p "$out/link/real"
cp "$tiny" "$out/link/real/t.safetensors"
ln -s real/t.safetensors "$out/link/t.safetensors"
expect link_bundle 0 "$graft" edit "$out/link/t.safetensors" --in-place -e 'head 4'
[ -L "$out/link/t.safetensors" ] || { ok=0; why="the symlink was replaced by a file"; }
expect link_bundle_reopen 0 "$graft" summary "$out/link/real/t.safetensors"
has link_bundle_reopen out "[1, 4]"; no_debris "$out/link/real"; done_ link_bundle
ln -s real/a.json "$out/link/a.json"
expect link_json 0 "$graft" edit "$tiny" -e 'head 6' -o "$out/link/a.json"
[ -L "$out/link/a.json" ] || { ok=0; why="the symlink was replaced by a file"; }
file_exists "$out/link/real/a.json"; file_exists "$out/link/real/a.safetensors"
file_absent "$out/link/a.safetensors"
expect link_json_reopen 0 "$graft" summary "$out/link/a.json"
has link_json_reopen out "[1, 6]"; done_ link_json

# An existing read-only file is refused unless --force (root included).
mkdir -p "$out/ro"
cp "$tiny" "$out/ro/r.safetensors"
chmod 444 "$out/ro/r.safetensors"
remember ro "$out/ro/r.safetensors"
expect read_only 2 "$graft" edit "$tiny" -e 'head 10' -o "$out/ro/r.safetensors"
has read_only err "r.safetensors: the file is read-only"; has read_only err "--force"
unchanged ro "$out/ro/r.safetensors"; no_debris "$out/ro"; done_ read_only
expect read_only_convert 2 "$graft" convert "$tiny" "$out/ro/r.safetensors"
unchanged ro "$out/ro/r.safetensors"; done_ read_only_convert
expect read_only_force 0 "$graft" edit "$tiny" -e 'head 10' --force -o "$out/ro/r.safetensors"
expect read_only_force_reopen 0 "$graft" summary "$out/ro/r.safetensors"
has read_only_force_reopen out "[1, 10]"
[ "$(stat -c %a "$out/ro/r.safetensors")" = 444 ] || { ok=0; why="the mode was not kept"; }
done_ read_only_force

# A model whose forward is unknown saves its tensors, which reopen as the
# same tree; it has no architecture to write as .json.
expect no_forward_bundle 0 "$graft" convert "$data/pth/state.pth" "$out/state.safetensors"
expect no_forward_reopen 0 "$graft" summary "$out/state.safetensors"
has no_forward_reopen out "Total params: 30"; done_ no_forward_bundle
expect no_forward_edit 1 "$graft" edit "$data/pth/state.pth" -e 'find Module' --force \
	-o "$out/state2.safetensors"
expect no_forward_edit_reopen 0 "$graft" summary "$out/state2.safetensors"
has no_forward_edit_reopen out "Total params: 30"; done_ no_forward_edit
expect no_forward_json 2 "$graft" convert "$data/pth/state.pth" "$out/state.json"
has no_forward_json err "the forward is unknown"; file_absent "$out/state.json"
file_absent "$out/state.safetensors.tmp"; done_ no_forward_json
no_debris "$out"

finish
