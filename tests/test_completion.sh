#!/bin/sh
# test_completion.sh - the bash completion (contrib/bash-completion/graft):
# subcommands, options read from graft's help, model files.
: "${srcdir:=.}"
: "${builddir:=.}"
if ! command -v bash >/dev/null 2>&1; then
	echo "skip: no bash"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
out="$builddir/tests/out/completion"
rm -rf "$out"
mkdir -p "$out/dir"
out="$(cd "$out" && pwd)"
graft="$(cd "$builddir" && pwd)/graft"
: >"$out/dir/a.json"
: >"$out/dir/b.safetensors"
: >"$out/dir/notes.txt"
mkdir -p "$out/dir/sub"

# complete WORDS...: the candidates bash offers for the last word, one a
# line (an empty line when there are none).
complete_() {
	(cd "$out/dir" && bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_graft
		printf "%s\n" "${COMPREPLY[@]}" | sort' bash "$srcdir/contrib/bash-completion/graft" "$@")
}
pass=0
fail=0
check() {
	name=$1 want=$2
	shift 2
	got=$(complete_ "$@" | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name: got '$got', expected '$want'"
		fail=$((fail + 1))
	fi
}
case "$srcdir" in /*) ;; *) srcdir="$(pwd)/$srcdir" ;; esac

check subcommands "sub summary " "$graft" su
check edit "edit " "$graft" ed
check help_topics "types " "$graft" help ty
check summary_options "--depth " "$graft" summary --de
check model_files "b.safetensors " "$graft" b
check not_models " " "$graft" n
check summary_model "a.json b.safetensors sub " "$graft" summary ""
check outline_options "--input " "$graft" a.json --inp
check weights "b.safetensors sub " "$graft" a.json --weights ""
check script_any "a.json b.safetensors notes.txt sub " "$graft" a.json --script ""

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
