#!/bin/sh
# test_tmux.sh - the full-screen outline on a real terminal, in tmux: what
# the headless screen tests cannot show (readline editing and completion on
# a pty, resizing, colours, history kept between runs, quitting). Each step
# polls the pane until the text it waits for shows up, with a deadline, and
# never sleeps for a fixed time. Without tmux every test is skipped.
: "${srcdir:=.}"
: "${builddir:=.}"
NTESTS=12
if ! command -v tmux >/dev/null 2>&1; then
	echo "skip: tmux is not installed"
	echo "0 passed, 0 failed, $NTESTS skipped"
	exit 0
fi
utf8=$(locale -a 2>/dev/null | grep -i -m1 -E '^(C|en_US)\.utf-?8$')
if [ -z "$utf8" ]; then
	echo "skip: no UTF-8 locale"
	echo "0 passed, 0 failed, $NTESTS skipped"
	exit 0
fi
graft="$(cd "$builddir" && pwd)/graft"
models="$(cd "$srcdir/models" && pwd)"
out="$builddir/tests/out/tmux"
rm -rf "$out"
mkdir -p "$out/work" "$out/state" "$out/home"
out="$(cd "$out" && pwd)"
# a private server (socket paths are short-lived and must stay short)
sock="${TMPDIR:-/tmp}/graft-tmux-$$.sock"
pass=0
fail=0
deadline_s=${GRAFT_TMUX_DEADLINE:-10}

tm() {
	tmux -S "$sock" -f /dev/null "$@"
}
cleanup() {
	tm kill-server >/dev/null 2>&1
	rm -f "$sock"
}
trap cleanup EXIT
# a session that keeps the server up between tests
tm new-session -d -s keep "sleep 600"

# start ARGS...: graft ARGS in a fresh 100x30 tmux session "t", in the
# locale $lc and on the terminal $term.
lc=$utf8
term=tmux-256color
start() {
	tm kill-session -t t >/dev/null 2>&1
	tm new-session -d -s t -x 100 -y 30 \
		"cd '$out/work' && env LC_ALL=$lc XDG_STATE_HOME='$out/state' HOME='$out/home' \
		XDG_CONFIG_HOME='$out/home' INPUTRC=/dev/null GRAFT_TYPES='$srcdir/lib/types.graft' \
		TERM=$term '$graft' $*; echo graft-exited-\$?; \
		stty -a | grep -q -- -icanon && echo tty-left-raw || echo tty-sane; sleep 30"
	tm set -g escape-time 0 >/dev/null
}
keys() {
	tm send-keys -t t "$@"
}
# snap [-e]: the pane's text (with colours: -e) into $out/pane.txt.
snap() {
	tm capture-pane -p $1 -t t >"$out/pane.txt" 2>/dev/null
}
# wait_for TEXT [-e]: polls the pane until it shows TEXT; 1 at the deadline.
wait_for() {
	end=$(($(date +%s) + deadline_s))
	while :; do
		snap "$2"
		grep -qF -- "$1" "$out/pane.txt" && return 0
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.05
	done
	why="$why; no '$1' on the screen"
	ok=0
	return 1
}
# wait_gone TEXT: polls until TEXT is no longer on the screen.
wait_gone() {
	end=$(($(date +%s) + deadline_s))
	while :; do
		snap
		grep -qF -- "$1" "$out/pane.txt" || return 0
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.05
	done
	why="$why; '$1' stays on the screen"
	ok=0
	return 1
}
begin() {
	ok=1
	why=""
	cp "$models/resnet18.json" "$out/work/"
}
done_() {
	if [ "$ok" -eq 1 ]; then
		echo "ok   $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1:$why"
		sed 's/^/  | /' "$out/pane.txt"
		fail=$((fail + 1))
	fi
}

# What a new user does: find the classifier, replace it, see the shapes
# re-check, undo, save, quit.
begin
start resnet18.json
wait_for "shapes check" && wait_for "fc"
keys G r
wait_for ":replace fc"
keys "Linear out_features=10" Enter
wait_for "replaced fc" && wait_for "1x10" && wait_for "modified"
keys u
wait_for "undone: replace fc Linear out_features=10" && wait_for "1x1000"
keys s
wait_for ":save resnet18.json"
keys Enter
wait_for "saved resnet18.json" && wait_gone "modified"
keys q
wait_for "graft-exited-0"
done_ new_user

# readline: editing keys, completion of commands, paths, types and
# keywords, a refused command, Esc back.
begin
start resnet18.json
wait_for "shapes check"
keys : "rep" Tab
wait_for "replace-all" && wait_for ":replace"
keys " lay" Tab
wait_for "layer1" && wait_for ":replace layer"
keys "4.1.c" Tab
wait_for "layer4.1.conv2"
keys "1 Conv2" Tab "ker" Tab
wait_for ":replace layer4.1.conv1 Conv2d kernel_size="
keys "1" C-a M-f "-all" C-e
wait_for ":replace-all layer4.1.conv1 Conv2d kernel_size=1"
keys C-u "sohw fc" Enter
wait_for "unknown command 'sohw' (did you mean 'show'?)"
keys : "abc" Escape
wait_gone ":abc"
keys q
wait_for "graft-exited-0"
done_ readline

# History is kept between runs.
begin
start resnet18.json
wait_for "shapes check"
keys : "input 1x3x320x320" Enter
wait_for "input x: 1x3x320x320"
keys q y
wait_for "graft-exited-0"
start resnet18.json
wait_for "shapes check"
keys : Up
wait_for ":input 1x3x320x320"
keys Escape
wait_gone ":input 1x3x320x320"
keys q
wait_for "graft-exited-0"
done_ history

# A resize redraws: the columns follow the width, the rows the height.
begin
start resnet18.json
wait_for "shapes check"
tm resize-window -t t -x 60 -y 16 >/dev/null 2>&1
# keys come after the resize: once G shows, the screen has been redrawn
keys G
wait_for "19/19"
# the status line ends at the new right edge
w=$(grep -F "19/19" "$out/pane.txt" | LC_ALL=$utf8 wc -m)
if [ "$w" -ne 61 ]; then ok=0; why="$why; status line of $((w - 1)) columns after resizing to 60"; fi
tm resize-window -t t -x 120 -y 40 >/dev/null 2>&1
wait_for "% params"
keys q
wait_for "graft-exited-0"
done_ resize

# Colours: the header on cyan, a shape break in red.
begin
start resnet18.json
wait_for "shapes check"
keys : "set layer3.0.conv1 out_channels=7" Enter
wait_for "shape break in layer3.0.bn1"
snap -e
if ! grep -q "$(printf '\033')\[[0-9;]*46[;m]" "$out/pane.txt"; then ok=0; why="$why; no cyan background"; fi
if ! grep "bn1" "$out/pane.txt" | grep -q "$(printf '\033')\[[0-9;]*31[;m]"; then ok=0; why="$why; no red row"; fi
keys q y
wait_for "graft-exited-0"
done_ colours

# Quitting with unsaved changes asks; n stays, y leaves; the journal
# is kept for --recover.
begin
start resnet18.json
wait_for "shapes check"
keys : "head 5" Enter
wait_for "1x5"
keys q
wait_for "Quit without saving?"
keys n
wait_for "not quitting"
keys q y
wait_for "unsaved edits are kept in" && wait_for "graft-exited-0"
[ -s "$out/state/graft/journal.graft" ] || { ok=0; why="$why; no journal"; }
done_ quit_unsaved

# Search as you type, help, details.
begin
start resnet18.json
wait_for "shapes check"
keys / "downs"
wait_for "layer2.0.downsample"
keys Enter n
wait_for "layer3.0.downsample"
keys i
wait_for "Details: layer3.0.downsample"
keys "?"
wait_for "keys and commands"
keys q q
wait_for "graft-exited-0"
done_ search_help

# A signal that ends graft (a crash, kill) gives the terminal back and
# says where the unsaved edits are.
for sig in SEGV TERM; do
	begin
	start resnet18.json
	wait_for "shapes check"
	keys : "head 5" Enter
	wait_for "1x5"
	kill -$sig "$(pgrep -P "$(tm list-panes -t t -F '#{pane_pid}')" graft)"
	wait_for "graft: stopped by SIG$sig" && wait_for "unsaved edits are kept in" &&
		wait_for "tty-sane"
	[ -s "$out/state/graft/journal.graft" ] || { ok=0; why="$why; no journal"; }
	done_ "signal_$sig"
	rm -f "$out/state/graft/journal.graft"
done

# A locale that is not UTF-8: the outline in ASCII, arrows and all.
begin
lc=C
start resnet18.json
lc=$utf8
wait_for "shapes check" && wait_for "|-- conv1    Conv2d 3->64 k7 s2 p3 no bias"
if LC_ALL=C grep -q '[^ -~]' "$out/pane.txt"; then ok=0; why="$why; bytes beyond ASCII"; fi
keys q
wait_for "graft-exited-0"
done_ ascii_locale

# A terminal that cannot move its cursor: the summary, and why; in ASCII
# when the locale is not UTF-8.
begin
term=dumb
lc=C
start resnet18.json
term=tmux-256color
lc=$utf8
wait_for "TERM=dumb cannot move the cursor" && wait_for "Total params: 11,689,512" &&
	wait_for "| |-conv1       Conv2d 256->512 k3 s2 p1 no bias" && wait_for "graft-exited-0"
if LC_ALL=C grep -q '[^ -~]' "$out/pane.txt"; then ok=0; why="$why; bytes beyond ASCII"; fi
done_ dumb_terminal

# Not a terminal: the summary.
begin
"$graft" "$out/work/resnet18.json" >"$out/pane.txt" 2>&1 </dev/null
grep -q "Total params: 11,689,512" "$out/pane.txt" || { ok=0; why="no summary"; }
done_ not_a_tty

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
