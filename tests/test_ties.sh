#!/bin/sh
# test_ties.sh - tied weights and shared modules (doc/format.md): counted
# once, kept through saves to .safetensors and .pth and their reopening,
# kept by name through edits while the shapes allow, dropped with a note
# otherwise, renamed by wrap and extract.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/user"
out="$builddir/tests/out/ties"
rm -rf "$out"
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"
tied="$data/tied_projection.safetensors"   # unproject.weight = project.weight
alias="$data/aliased_module.safetensors"   # self.proj = self.shared

# counted once, as model.parameters() does (PyTorch: 312 and 195)
expect counts 0 "$graft" summary "$tied"
has counts out "Total params: 312"
done_ counts
expect alias_counts 0 "$graft" summary "$alias"
has alias_counts out "Total params: 195"
done_ alias_counts

# saves keep the tie: a .pth (one storage) and a bundle, reopened
for ext in pth safetensors; do
	expect "save_$ext" 0 "$graft" convert "$tied" "$out/tied.$ext"
	done_ "save_$ext"
	expect "reopen_$ext" 0 "$graft" summary "$out/tied.$ext"
	has "reopen_$ext" out "Total params: 312"
	done_ "reopen_$ext"
done
expect json 0 "$graft" convert "$tied" "$out/tiedj.json"
if [ "$ok" -eq 1 ] && ! grep -q '"tied":{"weight":"project.weight"}' "$out/tiedj.json"; then
	ok=0
	why="no tie in the document"
fi
done_ json
expect json_reopen 0 "$graft" summary "$out/tiedj.json"
has json_reopen out "Total params: 312"
done_ json_reopen

# replacing the later name by the same shapes keeps the tie (its new bias
# is its own); replacing the first name keeps it too
expect keep_later 0 "$graft" edit "$tied" -e "replace unproject Linear in_features=12 out_features=12 bias=False" -o "$out/k1.pth"
has keep_later out "parameters: 312 -> 300"
done_ keep_later
expect keep_first 0 "$graft" edit "$tied" -e "replace project Linear in_features=12 out_features=12 bias=True" -o "$out/k2.pth"
has keep_first out "parameters: 312 -> 324"
done_ keep_first
expect keep_reopen 0 "$graft" summary "$out/k2.pth"
has keep_reopen out "Total params: 324"
done_ keep_reopen

# another shape drops the tie, and graft says so
expect drop 0 "$graft" edit "$tied" -e "replace unproject Linear in_features=12 out_features=6" -o "$out/d.safetensors"
has drop out "unproject.weight is no longer tied to project.weight"
has drop out "parameters: 312 -> 378"
done_ drop

# one name of a shared module: the same shapes keep it the same module
expect alias_keep 0 "$graft" edit "$alias" -e "replace shared Linear in_features=12 out_features=12" -o "$out/a.safetensors"
has alias_keep out "parameters: 195 -> 195"
done_ alias_keep

# wrap and extract rename the ties with the tensors
expect wrap 0 "$graft" edit "$tied" -e "wrap net" -o "$out/w.safetensors"
has wrap out "parameters: 312 -> 312"
done_ wrap
expect extract 0 "$graft" edit "$out/w.safetensors" -e "extract net" -o "$out/x.pth"
has extract out "parameters: 312 -> 312"
done_ extract
expect extract_reopen 0 "$graft" summary "$out/x.pth"
has extract_reopen out "Total params: 312"
done_ extract_reopen
finish
