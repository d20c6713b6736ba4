#!/bin/sh
# test_bad_inputs.sh - every malformed model in tests/data/bad is refused
# with exit status 2 and one clear message naming the file and the problem
# (the fragment in NAME.expect), never a crash.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
pass=0
fail=0
out="$builddir/tests/out/bad"
mkdir -p "$out"
for f in "$srcdir"/tests/data/bad/*.json "$srcdir"/tests/data/bad/*.safetensors; do
	name=$(basename "$f")
	want=$(cat "${f%.*}.expect")
	"$graft" summary "$f" >"$out/$name.stdout" 2>"$out/$name.stderr"
	status=$?
	lines=$(wc -l <"$out/$name.stderr")
	if [ "$status" -eq 2 ] && grep -qF -- "$want" "$out/$name.stderr" && [ "$lines" -eq 1 ] &&
	   grep -q '^graft: ' "$out/$name.stderr"; then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name: exit $status, expected 2 and one line containing: $want"
		sed 's/^/  | /' "$out/$name.stderr" | head -n 10
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
