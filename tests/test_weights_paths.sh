#!/bin/sh
# test_weights_paths.sh - the weights file a .json architecture names is
# read only from the architecture's own folder (symlinks resolved), only
# when it is a regular file, and an error never shows another file's bytes;
# --weights, the user's own choice, may point anywhere.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
models="$srcdir/models"
out="$builddir/tests/out/weights_paths"
rm -rf "$out"
mkdir -p "$out/a" "$out/elsewhere"
export XDG_STATE_HOME="$out/state" XDG_CONFIG_HOME="$out/config"

. "$srcdir/tests/cli-lib.sh"

tiny="$models/tiny/tiny_resnet.safetensors"

# an architecture with its weights, then variants naming other files
"$graft" edit "$tiny" -e 'head 10' -o "$out/a/m.json" >/dev/null 2>&1
expect pair 0 "$graft" summary "$out/a/m.json"; done_ pair
named() { sed "s|\"weights\": *\"m.safetensors\"|\"weights\": \"$1\"|" "$out/a/m.json" >"$out/a/$2"; }

cp "$out/a/m.safetensors" "$out/elsewhere/w.safetensors"
ln -s ../elsewhere/w.safetensors "$out/a/out.safetensors"
named out.safetensors link_out.json
expect link_outside 2 "$graft" summary "$out/a/link_out.json"
has link_outside err "leads outside the architecture's folder"; has link_outside err "--weights"
done_ link_outside
expect link_outside_explicit 0 "$graft" summary "$out/a/link_out.json" --weights "$out/a/out.safetensors"
done_ link_outside_explicit

ln -s m.safetensors "$out/a/in.safetensors"
named in.safetensors link_in.json
expect link_inside 0 "$graft" summary "$out/a/link_in.json"; done_ link_inside

ln -s /etc/passwd "$out/a/passwd.safetensors"
named passwd.safetensors passwd.json
expect passwd 2 "$graft" summary "$out/a/passwd.json"
has passwd err "leads outside"
if [ "$ok" -eq 1 ] && grep -q 'root:' "$out/passwd.err"; then ok=0; why="the error shows /etc/passwd"; fi
done_ passwd

named ../elsewhere/w.safetensors dotdot.json
expect dotdot 2 "$graft" summary "$out/a/dotdot.json"
has dotdot err "must name a file in the architecture's folder"; done_ dotdot

mkfifo "$out/a/fifo.safetensors"
named fifo.safetensors fifo.json
expect fifo 2 timeout 20 "$graft" summary "$out/a/fifo.json"
has fifo err "fifo.safetensors"; done_ fifo

finish
