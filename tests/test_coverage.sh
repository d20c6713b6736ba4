#!/bin/sh
# test_coverage.sh - doc/coverage.md tells the truth: every torch.nn class
# it marks supported is a type of graft's registry (`graft help types`),
# a composite graft traces, or a Lazy class exported as the type it
# becomes; every registry type the table lists is
# marked supported; and, with torch ($TORCH_PYTHON), the table lists every
# class of torch.nn, once.
: "${srcdir:=.}"
: "${builddir:=.}"
graft="$builddir/graft"
out="$builddir/tests/out/coverage"
py=${TORCH_PYTHON:-}
mkdir -p "$out"
. "$srcdir/tests/cli-lib.sh"

# "Class status" for each row of the table.
sed -n 's/^| \([A-Za-z0-9]*\) | \(.*\) |$/\1 \2/p' "$srcdir/doc/coverage.md" |
	grep -v '^Class ' >"$out/rows"
"$graft" help types | awk '{print $1}' | sort >"$out/registry"

expect rows 0 test -s "$out/rows"
done_ rows

expect supported_known 0 sh -c "grep ' supported' '$out/rows' | grep -v 'a composite\|exported as the' |
	awk '{print \$1}' | sort | comm -23 - '$out/registry' >'$out/supported_unknown.out';
	test ! -s '$out/supported_unknown.out'"
why="marked supported but not in the registry: $(tr '\n' ' ' <"$out/supported_unknown.out")"
done_ supported_known

expect registry_marked 0 sh -c "grep -v ' supported' '$out/rows' | awk '{print \$1}' | sort |
	comm -12 - '$out/registry' >'$out/unmarked.out'; test ! -s '$out/unmarked.out'"
why="in the registry but not marked supported: $(tr '\n' ' ' <"$out/unmarked.out")"
done_ registry_marked

if [ -n "$py" ] && "$py" -c 'import torch' >/dev/null 2>&1; then
	"$py" -c '
import inspect, torch.nn as nn
for name, obj in sorted(vars(nn).items()):
    if inspect.isclass(obj) and issubclass(obj, nn.Module):
        print(name)' | sort >"$out/torch"
	expect every_class 0 sh -c "awk '{print \$1}' '$out/rows' | sort | cmp -s - '$out/torch'"
	why="the table's classes differ from torch.nn's: $(awk '{print $1}' "$out/rows" | sort |
		diff - "$out/torch" | grep '^[<>]' | tr '\n' ' ')"
	done_ every_class
else
	echo "skip every_class: no python3 with torch"
fi
finish
