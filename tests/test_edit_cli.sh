#!/bin/sh
# test_edit_cli.sh - `graft edit` in batch: scripts, FILE:LINE messages,
# exit codes, atomic saves that never overwrite the input by accident.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
models="$srcdir/models"
data="$srcdir/tests/data"
out="$builddir/tests/out/edit"
rm -rf "$out"
mkdir -p "$out"
export XDG_STATE_HOME="$out/state" XDG_CONFIG_HOME="$out/config"

. "$srcdir/tests/cli-lib.sh"

tiny="$models/tiny/tiny_resnet.safetensors"

expect bundle 0 "$graft" edit "$tiny" -e 'replace fc Linear out_features=3' -o "$out/r3.safetensors"
has bundle out "replaced fc: Linear 32→10 -> Linear 32→3"; has bundle out "saved"
file_exists "$out/r3.safetensors"; done_ bundle
expect bundle_summary 0 "$graft" summary "$out/r3.safetensors"; has bundle_summary out "[1, 3]"; done_ bundle_summary

expect json_out 0 "$graft" edit "$tiny" -e 'head 5' -o "$out/r5.json"
file_exists "$out/r5.json"; file_exists "$out/r5.safetensors"; done_ json_out
expect json_reopen 0 "$graft" summary "$out/r5.json"; has json_reopen out "[1, 5]"; done_ json_reopen
# a model without class scores says so, and what computes its outputs
expect head_flow 2 "$graft" edit "$data/user/raft_bilinear.safetensors" -e 'head 5' -o "$out/flow.safetensors"
has head_flow err "head: RAFT has no class head (optical flow: its outputs are the flow estimates"
has head_flow err "update_block.flow_head"; done_ head_flow

# a script passes through broken states: each break is a note, and only the
# model after the last command decides the exit status and the save
expect script_break 1 "$graft" edit "$models/resnet18.json" -f "$data/edit_break.graft" -o "$out/never.json"
has script_break err "edit_break.graft:3: note: layer2.0.bn1: BatchNorm2d(num_features=128) gets 64 channels from layer2.0.conv1 (out_channels=64)"
has script_break err "edit_break.graft:5: note: still broken: layer2.0.conv2"
has script_break err "not saving $out/never.json: the model does not check (use --force to save anyway)"
file_absent "$out/never.json"; done_ script_break
expect script_fixed 0 "$graft" edit "$models/resnet18.json" -f "$data/edit_break.graft" -e 'set layer2.0.conv2 in_channels=64' -o "$out/fixed.json"
has script_fixed err "edit_break.graft:3: note: layer2.0.bn1"; has script_fixed out "saved $out/fixed.json"
file_exists "$out/fixed.json"; done_ script_fixed
# a 1-channel input breaks the stem until its conv is changed too
expect gray 0 "$graft" edit "$tiny" -e 'input 1x1x32x32' -e 'set conv1 in_channels=1' -o "$out/gray.safetensors"
has gray err "-e:1: note: conv1: Conv2d(in_channels=3) gets 1 channels"; file_exists "$out/gray.safetensors"; done_ gray
# a refused command still stops the batch; --keep-going skips it and runs the rest
expect refused_stops 2 "$graft" edit "$tiny" -e 'frobnicate fc' -e 'head 4' -o "$out/stopped.safetensors"
has refused_stops err "-e:1: unknown command 'frobnicate'"; has refused_stops err "nothing written (--keep-going"
file_absent "$out/stopped.safetensors"
if [ "$ok" -eq 1 ] && grep -q "head" "$out/refused_stops.out"; then ok=0; why="ran past the refused command"; fi
done_ refused_stops
expect keep_going 2 "$graft" edit "$tiny" --keep-going -e 'frobnicate fc' -e 'head 4' -o "$out/kept.safetensors"
has keep_going err "-e:1: unknown command 'frobnicate'"; has keep_going out "Linear 32→4"
file_exists "$out/kept.safetensors"; done_ keep_going
expect force 1 "$graft" edit "$models/resnet18.json" --force -e 'set layer2.0.conv1 out_channels=64' -o "$out/forced.json"
has force err "-e:1: note: layer2.0.bn1"; file_exists "$out/forced.json"; done_ force

# a script that is a directory is refused; without -o graft says nothing was written
expect script_dir 2 "$graft" edit "$tiny" -f "$data" -o "$out/dir.safetensors"
has script_dir err "cannot read the script: Is a directory"; file_absent "$out/dir.safetensors"; done_ script_dir
expect no_output 0 "$graft" edit "$tiny" -e 'head 4'
has no_output out "parameters: 19,994 -> "; has no_output err "nothing written: give -o OUT"; done_ no_output

# the script the outline saves replays to the same model, byte for byte
printf ':input 1x1x32x32\n:set conv1 in_channels=1\n:head 4\n:save-script %s\n:save %s\n:quit\n' \
	"$out/outline.graft" "$out/outline.safetensors" >"$out/outline-keys.txt"
expect outline_script 0 "$graft" "$tiny" --script "$out/outline-keys.txt"
file_exists "$out/outline.graft"; file_exists "$out/outline.safetensors"; done_ outline_script
expect replay_script 0 "$graft" edit "$tiny" -f "$out/outline.graft" -o "$out/replayed.safetensors"
same replay_script "$out/outline.safetensors" "$out/replayed.safetensors"; done_ replay_script

# refused commands: exit 2 with the place
expect refused 2 "$graft" edit "$tiny" -e 'replace fc Linaer out_features=3' -o "$out/x.safetensors"
has refused err "graft: -e:1: fc: unknown type 'Linaer' (did you mean 'Linear'?)"; file_absent "$out/x.safetensors"; done_ refused
expect unknown_cmd 2 "$graft" edit "$tiny" -e 'frobnicate fc'; has unknown_cmd err "-e:1: unknown command 'frobnicate'"; done_ unknown_cmd

# type names as a user writes them: in lower case when that is one type
# only, with PyTorch's nn. prefix; a lower-case word that is also a path
# picks the path and says how to pick the type
expect lower_type 0 "$graft" edit "$models/resnet18.json" -e 'replace-all batchnorm2d GroupNorm num_groups=8' -e 'find groupnorm'
has lower_type out "20 modules replaced"; has lower_type out "20 modules"; done_ lower_type
expect path_or_type 0 "$graft" edit "$models/resnet18.json" -e 'replace-all relu GELU'
has path_or_type out "1 module replaced"; has path_or_type out "note: 'relu' is the module at that path; 'ReLU' picks all 9 ReLU modules"; done_ path_or_type
expect nn_prefix 0 "$graft" edit "$tiny" -e 'replace fc nn.Linear(32, 5)' -e 'replace avgpool nn.Sequential(nn.AdaptiveAvgPool2d(1), torch.nn.Dropout(0.1))' -o "$out/nn.safetensors"
has nn_prefix out "Linear 32→10 -> Linear 32→5"; file_exists "$out/nn.safetensors"; done_ nn_prefix
expect bad_attr 2 "$graft" edit "$models/resnet18.json" -e 'find Conv2d[kernal_size=1]'
has bad_attr err "-e:1: selector: Conv2d has no attribute 'kernal_size' (did you mean 'kernel_size'?)"; done_ bad_attr

# the diff follows modules that an edit moved or renamed
expect diff_wrap 0 "$graft" edit "$tiny" -e 'wrap backbone'
has diff_wrap out "+ (root): Sequential"; has diff_wrap out "> (root): now backbone"
if [ "$ok" -eq 1 ] && grep -q "^- " "$out/diff_wrap.out"; then ok=0; why="wrap lists removed modules"; fi
done_ diff_wrap
expect diff_extract 0 "$graft" edit "$models/vgg11.json" -e 'extract features'
has diff_extract out "> features: now (root)"; has diff_extract out "- classifier: Sequential"
if [ "$ok" -eq 1 ] && grep -q "^[-+] features" "$out/diff_extract.out"; then ok=0; why="extract lists the kept modules"; fi
done_ diff_extract
expect diff_delete 0 "$graft" edit "$models/resnet18.json" -e 'delete layer1.0'
has diff_delete out "- layer1.0: BasicBlock"; has diff_delete out "> layer1.1: now layer1.0"
if [ "$ok" -eq 1 ] && grep -q "^- layer1.1" "$out/diff_delete.out"; then ok=0; why="the renumbered block is listed as removed"; fi
done_ diff_delete

# the input is never overwritten unless --in-place
cp "$tiny" "$out/mine.safetensors"
expect no_overwrite 2 "$graft" edit "$out/mine.safetensors" -e 'head 4' -o "$out/mine.safetensors"
has no_overwrite err "refusing to overwrite the model opened"; done_ no_overwrite
expect in_place 0 "$graft" edit "$out/mine.safetensors" --in-place -e 'head 4'
done_ in_place
expect in_place_check 0 "$graft" summary "$out/mine.safetensors"; has in_place_check out "[1, 4]"; done_ in_place_check

# --dry-run writes nothing; stdin scripts
expect dry 0 "$graft" edit "$tiny" --dry-run -e 'head 4' -o "$out/dry.safetensors"
file_absent "$out/dry.safetensors"; done_ dry
printf 'replace-all ReLU FusedReLU p=0.5\nhead 7\n' >"$out/script.graft"
expect stdin 0 sh -c "'$graft' edit '$tiny' -f - -o '$out/s.safetensors' < '$out/script.graft'"
has stdin out "modules replaced"; file_exists "$out/s.safetensors"; done_ stdin

# an architecture without weights saves as .json only; a bundle needs weights
expect arch_json 0 "$graft" edit "$models/resnet18.json" -e 'head 10' -o "$out/r18.json"
file_exists "$out/r18.json"; file_absent "$out/r18.safetensors"; done_ arch_json
expect arch_bundle 2 "$graft" edit "$models/resnet18.json" -e 'head 10' -o "$out/r18.safetensors"
has arch_bundle err "has no values"; done_ arch_bundle

# a new module too large to initialise is refused, not an abort
expect huge_replace 2 "$graft" edit "$tiny" --dry-run -e 'replace fc Linear(1099511627776, 10)'
has huge_replace err "-e:1: fc: weight: cannot allocate a [10, 1099511627776] float32 tensor: more than 2^40 elements"
done_ huge_replace
expect huge_set 2 "$graft" edit "$tiny" --dry-run -e 'set fc in_features=68719476736'
has huge_set err "weight: cannot allocate 2.75 TB for a [10, 68719476736] float32 tensor"
done_ huge_set

# interactive edits are journaled; --recover replays them after a crash
printf 'replace fc Linear out_features=3\nhead 4\nundo\n' >"$out/typed.txt"
expect typed 0 sh -c "'$graft' edit '$tiny' < '$out/typed.txt'"
has typed err "unsaved edits are kept"; file_exists "$out/state/graft/journal.graft"; done_ typed
printf 'save %s\nquit\n' "$out/recovered.safetensors" >"$out/typed2.txt"
expect recover 0 sh -c "'$graft' --recover < '$out/typed2.txt'"
has recover out "recovered 3 commands"; file_exists "$out/recovered.safetensors"; done_ recover
expect recover_check 0 "$graft" summary "$out/recovered.safetensors"; has recover_check out "[1, 3]"; done_ recover_check

# a save to the model's own path empties the journal: a recovery replays
# only what came after it
journal="$out/state/graft/journal.graft"
cp "$tiny" "$out/own.safetensors"
printf 'replace fc Linear out_features=3\nsave\nhead 4\nquit!\n' >"$out/own.txt"
expect own_save 0 sh -c "'$graft' edit '$out/own.safetensors' < '$out/own.txt'"
has own_save err "unsaved edits are kept"; done_ own_save
expect own_journal 1 grep -c "replace" "$journal"; done_ own_journal
printf 'save %s\nquit\n' "$out/own2.safetensors" >"$out/own2.txt"
expect own_recover 0 sh -c "'$graft' --recover < '$out/own2.txt'"
has own_recover out "recovered 1 command on"; file_absent "$journal"; done_ own_recover
expect own_check 0 "$graft" summary "$out/own2.safetensors"; has own_check out "[1, 4]"; done_ own_check

# a second graft editing at once gets a journal of its own; the first's is
# untouched
: >"$journal"
expect second 0 flock "$journal" sh -c "'$graft' edit '$tiny' < '$out/typed.txt'"
has second err "/journal."; has second err ".graft; 'graft --recover $out/state/graft/journal."
same second "$journal" /dev/null; done_ second
second=$(ls "$out"/state/graft/journal.*.graft)
expect second_recover 0 sh -c "'$graft' --recover '$second' < '$out/typed2.txt'"
has second_recover out "recovered 3 commands"; file_absent "$second"; done_ second_recover
rm -f "$journal"

# a command that fails on replay is reported with its line and kept (as a
# comment); the journal is replaced only once the replay is complete
printf '# graft journal: %s\nreplace fc Linear out_features=3\ndelete nosuch\nhead 4\n' \
	"$(cd "$(dirname "$tiny")" && pwd)/$(basename "$tiny")" >"$journal"
expect replay_fail 0 sh -c "printf 'quit!\\n' | '$graft' --recover"
has replay_fail err "journal.graft:3: not replayed: "; has replay_fail out "recovered 2 commands"
file_absent "$journal.replay"; done_ replay_fail
expect replay_kept 0 grep -q "^# not replayed (.*): delete nosuch$" "$journal"; done_ replay_kept
expect replay_rest 0 grep -q "^head 4$" "$journal"; done_ replay_rest
rm -f "$journal"

# edits that keep the function keep the output, number for number: ReLU ->
# FusedReLU (dropout is the identity in eval), and a same-type replacement,
# which keeps the tensors
expect fn_edit 0 "$graft" edit "$tiny" -e 'replace-all ReLU FusedReLU p=0.5' -e 'replace fc Linear' -o "$out/same_fn.safetensors"
done_ fn_edit
expect fn_run0 0 "$graft" run "$tiny" --random 3 --threads 1 -o "$out/y0.npy"; done_ fn_run0
expect fn_run1 0 "$graft" run "$out/same_fn.safetensors" --random 3 --threads 1 -o "$out/y1.npy"; done_ fn_run1
ok=1; cmp -s "$out/y0.npy" "$out/y1.npy" || { ok=0; why="outputs differ"; }; done_ fn_same_output
expect fn_edit2 0 "$graft" edit "$tiny" -e 'head 10 keep=none' -o "$out/other_fn.safetensors"; done_ fn_edit2
expect fn_run2 0 "$graft" run "$out/other_fn.safetensors" --random 3 --threads 1 -o "$out/y2.npy"; done_ fn_run2
ok=1; cmp -s "$out/y0.npy" "$out/y2.npy" && { ok=0; why="a fresh classifier gave the same output"; }; done_ fn_fresh_differs

# the README's edit examples work from a checkout: each "$ " line (with its
# continuation lines) runs in a folder of its own; the one that needs
# PyTorch only with it
readme_cmds() {
	sed -n '/^- `graft edit MODEL/,/^- `graft run/p' "$srcdir/README.md" |
		awk '/^ *\$ /{ sub(/^ *\$ /, ""); cmd = $0; while (cmd ~ /\\$/) { sub(/\\$/, "", cmd); getline; cmd = cmd $0 } print cmd }'
}
mkdir -p "$out/readme"
readme_tools=$(cd "$srcdir/tools" && pwd) readme_models=$(cd "$srcdir/models" && pwd)
readme_graft=$(cd "$(dirname "$graft")" && pwd)/graft
n=0
readme_cmds | while IFS= read -r cmd; do
	n=$((n + 1))
	case "$cmd" in
	/usr/bin/python3*)
		[ -n "${TORCH_PYTHON:-}" ] && "$TORCH_PYTHON" -c 'import torchvision' >/dev/null 2>&1 || {
			echo "skip readme_$n: needs PyTorch" >&2
			printf 'cp "%s" resnet18.safetensors\n' "$readme_models/tiny/tiny_resnet.safetensors"
			continue
		}
		cmd="\"$TORCH_PYTHON\" ${cmd#/usr/bin/python3 }" ;;
	esac
	echo "$cmd"
done | sed -e "s|^graft |'$readme_graft' |" -e "s| tools/| '$readme_tools'/|" -e "s| models/| '$readme_models'/|" >"$out/readme/cmds.sh"
expect readme_edit 0 env GRAFT_TYPES="$(cd "$srcdir/lib" && pwd)/types.graft" sh -ec "cd '$out/readme' && . ./cmds.sh"
has readme_edit out "saved resnet18-10.safetensors"; has readme_edit out "saved resnet18-10.json"
file_exists "$out/readme/resnet18-10.safetensors"; file_exists "$out/readme/resnet18-10.json"; done_ readme_edit

expect help_edit 0 "$graft" help edit; has help_edit out "--keep-going"; done_ help_edit
expect help_replace 0 "$graft" help replace; has help_replace out "replace fc Linear"; done_ help_replace

finish
