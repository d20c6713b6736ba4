#!/bin/sh
# test_layout.sh - the program's sources (src/, ui/) keep the include rules
# that make the layers:
#   - only ui/ includes the curses and readline headers;
#   - only the JSON module (src/io/io_json.c, src/io/json*.c) includes cJSON;
#   - only kernel files (src/exec/kernels*.c, src/exec/gemm*.c) include the
#     BLAS headers (cblas.h, dnnl.h);
#   - src/core includes no header of src/io, src/exec, src/edit, src/view or
#     src/export;
#   - nothing in src/ includes a header of ui/.
# Each rule is one test; a failure names every file and include breaking it.
: "${srcdir:=.}"
pass=0
fail=0

# Every include of the program as "FILE INCLUDED", FILE relative to srcdir
# and INCLUDED without its <> or "".
includes=$(cd "$srcdir" && grep -HE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' \
	src/*/*.c src/*/*.h ui/*.c ui/*.h |
	sed -E 's/^([^:]*):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1 \2/')
ui_headers=$(cd "$srcdir" && ls ui/*.h | sed -e 's|^ui/||' -e 's/\./\\./g' | tr '\n' '|' | sed 's/|$//')

# rule NAME FILES_ALLOWED INCLUDES_FORBIDDEN: FILES_ALLOWED (an extended
# regex on the file) may include what INCLUDES_FORBIDDEN (an extended regex
# on the include) matches; nobody else may.
rule()
{
	bad=$(echo "$includes" | grep -E " ($3)\$" | grep -vE "^($2) ")
	if [ -z "$bad" ]; then
		echo "ok   $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1"
		echo "$bad" | sed -E 's/^([^ ]*) (.*)/  \1 includes \2/'
		fail=$((fail + 1))
	fi
}

rule "only ui/ includes curses and readline" 'ui/[^ ]*' \
	'n?curses(w)?\.h|n?cursesw?/.*|term\.h|panel\.h|readline/.*|editline/.*'
rule "only the JSON module includes cJSON" 'src/io/io_json\.c|src/io/json[^ /]*\.c' \
	'(cjson/)?cJSON\.h|(cjson/)?cJSON_Utils\.h'
rule "only kernel files include BLAS headers" 'src/exec/kernels[^ /]*\.c|src/exec/gemm[^ /]*\.c' \
	'(openblas/)?cblas\.h|(oneapi/dnnl/)?dnnl\.h'
rule "src/core includes no io, exec, edit, view or export header" \
	'src/(io|exec|edit|view|export)/[^ ]*|ui/[^ ]*' '(\.\./)*(io|exec|edit|view|export)/.*'
rule "src/ includes no ui/ header" 'ui/[^ ]*' \
	"(\\.\\./)*ui/.*|$ui_headers"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
