# cli-lib.sh - helpers for the command-line tests, sourced after setting
# $out (the folder for each step's output). A step is
#
#   expect NAME STATUS CMD...   run CMD (stdin from /dev/null), keep its
#                               output in $out/NAME.out and .err, check
#                               its exit status
#   has NAME out|err TEXT       ... and checks on what it did
#   same NAME FILE1 FILE2
#   file_exists PATH / file_absent PATH
#   done_ NAME                  count it as passed or failed
#
# and `finish` prints "N passed, N failed" and sets the exit status.
pass=0
fail=0

expect() {
	name=$1 want=$2
	shift 2
	"$@" >"$out/$name.out" 2>"$out/$name.err" </dev/null
	got=$?
	ok=1
	[ "$got" -eq "$want" ] || { ok=0; why="exit $got, expected $want"; }
}
has() {
	if [ "$ok" -eq 1 ] && ! grep -qF -- "$3" "$out/$1.$2"; then
		ok=0
		why="$2 lacks: $3"
	fi
}
same() {
	if [ "$ok" -eq 1 ] && ! cmp -s "$2" "$3"; then
		ok=0
		why="$2 and $3 differ"
	fi
}
file_exists() {
	if [ "$ok" -eq 1 ] && [ ! -s "$1" ]; then
		ok=0
		why="missing $1"
	fi
}
file_absent() {
	if [ "$ok" -eq 1 ] && [ -e "$1" ]; then
		ok=0
		why="unexpected $1"
	fi
}
done_() {
	if [ "$ok" -eq 1 ]; then
		echo "ok   $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1: $why"
		[ -f "$out/$1.err" ] && head -n 5 "$out/$1.err" | sed 's/^/  | /'
		fail=$((fail + 1))
	fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
