#!/bin/sh
# test_checkpoints.sh - checkpoints as training scripts leave them
# (tests/data/ckpt, made by tools/make-checkpoint-fixtures): each opens
# with the parameter total PyTorch gave; wrapper prefixes and checkpoint
# entries are stripped and said; a fine-tuned head still matches the zoo;
# a training checkpoint edited --in-place keeps its other entries, and its
# optimizer state is kept or dropped only when asked; graft's own .pth
# reopens with its architecture; a TorchScript archive shows its tree. No
# save changes a file it was not told to write (checked by hash).
#
# With a python3 that has torch ($TORCH_PYTHON), PyTorch reads what graft
# wrote back, and torchvision's efficientnet_b0 with 10 classes and
# resnet18 with 7 are made in a scratch folder and matched against the
# shipped zoo; without it those checks are skipped.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
data="$srcdir/tests/data/ckpt"
out="$builddir/tests/out/checkpoints"
py=${TORCH_PYTHON:-}
rm -rf "$out"
mkdir -p "$out/zoo" "$out/work" "$out/empty"

. "$srcdir/tests/cli-lib.sh"
skip=0

# the tiny zoo: tiny_cnn (the zoo takes its architecture, not its weights)
GRAFT_MODELS="$out/zoo"
export GRAFT_MODELS
"$graft" convert "$srcdir/models/tiny/tiny_cnn.safetensors" "$out/zoo/tiny_cnn.json" >/dev/null

# commas N: 11666 -> 11,666, as graft prints totals
commas() {
	n=$1 r=""
	while [ ${#n} -gt 3 ]; do
		r=",${n#"${n%???}"}$r"
		n=${n%???}
	done
	echo "$n$r"
}
# hashes of every file under the fixtures and the work folder but $1
hashes() {
	find "$data" "$out/work" -type f ! -path "$1" -exec sha256sum {} + | sort -k 2
}
# unchanged NAME: nothing but the file NAME was told to write changed
unchanged() {
	if [ "$ok" -eq 1 ] && ! hashes "$1" | cmp -s - "$out/before"; then
		ok=0
		why="a file it was not told to write changed"
	fi
}
# save STATUS OUT CMD...: a step that may write OUT and nothing else
save() {
	want=$1 target=$2
	shift 2
	hashes "$target" >"$out/before"
	expect "$step" "$want" "$@"
	unchanged "$target"
}

# every fixture opens with PyTorch's total and says what it stripped
while read -r file total; do
	step="open_$file"
	expect "$step" 0 "$graft" summary "$data/$file"
	has "$step" out "Total params: $(commas "$total")"
	done_ "$step"
done <"$data/totals.txt"
step=note_train; expect $step 0 "$graft" summary "$data/train.pth"
has $step err "matches zoo/tiny_cnn.json; the state_dict is the checkpoint's 'model' entry"; done_ $step
step=note_sd; expect $step 0 "$graft" summary "$data/train_sd.pth"
has $step err "the checkpoint's 'model_state_dict' entry"; done_ $step
step=note_ema; expect $step 0 "$graft" summary "$data/ema.pth"
has $step err "the checkpoint's 'ema' entry"; done_ $step
step=note_dp; expect $step 0 "$graft" summary "$data/dataparallel.pth"
has $step err "matches zoo/tiny_cnn.json; 'module.' stripped from every name"; done_ $step
step=note_compiled; expect $step 0 "$graft" summary "$data/compiled.pth"
has $step err "'_orig_mod.' stripped from every name"; done_ $step
step=note_lightning; expect $step 0 "$graft" summary "$data/lightning.ckpt"
has $step err "the checkpoint's 'state_dict' entry; 'model.' stripped from every name"; done_ $step
step=head7; expect $step 0 "$graft" summary "$data/head7.pth"
has $step err "matches zoo/tiny_cnn.json with its head resized: '8' 10→7"
has $step out "[1, 7]"; done_ $step
step=script; expect $step 0 "$graft" summary --depth 1 "$data/scripted.pt"
has $step err "TorchScript"; has $step out "Total params: 11,666"; done_ $step

# --in-place on a training checkpoint: the optimizer state of the head no
# longer fits, and graft will not guess
cp "$data/train.pth" "$out/work/train.pth"
step=inplace_refused
save 2 "$out/work/train.pth" "$graft" edit "$out/work/train.pth" --in-place -e 'head 5'
has $step err "the optimizer state in 'optimizer' of 2 parameters whose shape changed no longer fits (8.weight, 8.bias)"
has $step err "--optimizer=keep"
same $step "$data/train.pth" "$out/work/train.pth"; done_ $step
step=optimizer_bad; expect $step 2 "$graft" edit "$out/work/train.pth" --optimizer=maybe -e 'head 5'
has $step err "--optimizer takes keep or drop"; done_ $step
step=inplace_drop
save 0 "$out/work/train.pth" "$graft" edit "$out/work/train.pth" --in-place --optimizer=drop -e 'head 5'
has $step out "saved"; done_ $step
step=reopen_inplace; expect $step 0 env GRAFT_MODELS="$out/empty" "$graft" summary "$out/work/train.pth"
has $step err "the architecture graft saved inside it; the state_dict is the checkpoint's 'model' entry"
has $step out "Total params: 6,541"; done_ $step
# a second in-place save of the saved file: nothing left to drop or refuse
step=inplace_again
save 0 "$out/work/train.pth" "$graft" edit "$out/work/train.pth" --in-place -e 'head 5'; done_ $step

# -o keeps the entries too, and the prefixes the names had
cp "$data/lightning.ckpt" "$out/work/l.ckpt"
step=lightning_keep
save 0 "$out/work/l2.ckpt" "$graft" edit "$out/work/l.ckpt" --optimizer=keep -e 'head 5' -o "$out/work/l2.ckpt"
done_ $step
step=dp_out
save 0 "$out/work/dp.pth" "$graft" edit "$data/dataparallel.pth" -e 'head 5' -o "$out/work/dp.pth"
done_ $step
step=dp_reopen; expect $step 0 "$graft" summary "$out/work/dp.pth"
has $step err "'module.' stripped from every name"; done_ $step
# graft's own .pth carries its architecture: it opens without a zoo
step=own_pth
save 0 "$out/work/own.pth" "$graft" convert "$srcdir/models/tiny/tiny_resnet.safetensors" "$out/work/own.pth"
done_ $step
step=own_reopen; expect $step 0 env GRAFT_MODELS="$out/empty" "$graft" summary "$out/work/own.pth"
has $step err "own.pth: the architecture graft saved inside it"; has $step out "Total params: 19,994"
has $step out "[1, 10]"; done_ $step
step=own_head
save 0 "$out/work/own10.pth" env GRAFT_MODELS="$out/empty" "$graft" edit "$out/work/own.pth" -e 'head 3' -o "$out/work/own10.pth"
done_ $step
step=own_head_reopen; expect $step 0 env GRAFT_MODELS="$out/empty" "$graft" summary "$out/work/own10.pth"
has $step out "[1, 3]"; done_ $step

if [ -z "$py" ] || ! "$py" -c 'import torch, torchvision' >/dev/null 2>&1; then
	for c in torch_inplace torch_lightning torch_dp torch_own big_make big_efficientnet_b0 big_resnet18; do
		echo "skip $c: no python3 with torch and torchvision"
		skip=$((skip + 1))
	done
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
	exit
fi

# PyTorch reads what graft wrote back: every other entry equal
step=torch_inplace
expect $step 0 "$py" - "$data/train.pth" "$out/work/train.pth" <<'PY'
import sys, torch
old, new = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert list(old) == list(new), (list(old), list(new))
for k in ("epoch", "best_acc", "args"):
    assert old[k] == new[k], k
o, n = old["optimizer"], new["optimizer"]
assert o["param_groups"] == n["param_groups"]
assert sorted(n["state"]) == [0, 1, 2, 3, 4, 5], sorted(n["state"])
for i, st in n["state"].items():
    for k, v in st.items():
        assert torch.equal(v, o["state"][i][k]), (i, k)
sd = new["model"]
assert sd["8.weight"].shape == (5, 1024)
for k, v in old["model"].items():
    if not k.startswith("8."):
        assert torch.equal(v, sd[k]), k
PY
done_ $step
step=torch_lightning
expect $step 0 "$py" - "$data/lightning.ckpt" "$out/work/l2.ckpt" <<'PY'
import sys, torch
old, new = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert list(old) == list(new)
for k in old:
    if k not in ("state_dict", "optimizer_states"):
        assert old[k] == new[k], k
for o, n in zip(old["optimizer_states"], new["optimizer_states"]):
    assert o["param_groups"] == n["param_groups"]
    for i, st in o["state"].items():
        for k, v in st.items():
            assert torch.equal(v, n["state"][i][k]), (i, k)
assert all(k.startswith("model.") for k in new["state_dict"])
PY
done_ $step
# a bare state_dict graft wrote: weights_only and a strict load_state_dict
step=torch_dp
expect $step 0 "$py" - "$srcdir/tools" "$out/work/dp.pth" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1])
import tiny_models
m = tiny_models.build("tiny_cnn", 0)
m[8] = torch.nn.Linear(1024, 5)
m = torch.nn.DataParallel(m)
m.load_state_dict(torch.load(sys.argv[2], weights_only=True), strict=True)
PY
done_ $step
step=torch_own
expect $step 0 "$py" - "$srcdir/tools" "$out/work/own10.pth" <<'PY'
import sys, torch
sys.path.insert(0, sys.argv[1])
import tiny_models
m = tiny_models.build("tiny_resnet", 0)
m.fc = torch.nn.Linear(32, 3)
m.load_state_dict(torch.load(sys.argv[2], weights_only=True), strict=True)
PY
done_ $step

# torchvision models fine-tuned to another number of classes
big="$out/big"
step=big_make; expect $step 0 "$py" "$srcdir/tools/make-checkpoint-fixtures" --big "$big"; done_ $step
for arch in efficientnet_b0:10 resnet18:7; do
	zoo_name=${arch%%:*} classes=${arch##*:}
	file="${zoo_name}_$classes.pth"
	total=$(sed -n "s/^$file //p" "$big/totals.txt")
	step="big_$zoo_name"
	expect $step 0 env GRAFT_MODELS="$srcdir/models" "$graft" summary --depth 1 "$big/$file"
	has $step err "$file: matches models/$zoo_name.json with its head resized"
	has $step out "Total params: $(commas "$total")"
	has $step out "[1, $classes]"; done_ $step
done
rm -rf "$big"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
