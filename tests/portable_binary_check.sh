#!/usr/bin/env bash
# The parser kernels for haswell (AVX2) and icelake (AVX-512) are compiled into the same binary
# as the baseline code (src/event/parser_kernel.cpp, compiled three times). An inline function
# shared by those translation units (a std:: or simdjson:: template) is emitted once per unit,
# and the linker keeps one copy: if it kept an AVX one, the "portable" binary would crash with
# SIGILL on an older CPU. This check disassembles BINARY and fails if any function outside the
# kernels' own namespaces uses an instruction beyond baseline x86-64.
# usage: tests/portable_binary_check.sh BINARY
set -euo pipefail
bin=${1:?usage: $0 BINARY}
command -v objdump >/dev/null || { echo "objdump not found (binutils)" >&2; exit 1; }
objdump -d --no-show-raw-insn -C "$bin" | awk '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ </, "", fn); sub(/>:$/, "", fn); next }
  fn ~ /parser_haswell|parser_icelake|simdjson::haswell|simdjson::icelake/ { next }
  {
    # AT&T syntax: the mnemonic is the second tab-separated field.
    n = split($0, f, "\t"); if (n < 2) next
    split(f[2], w, " "); m = w[1]
    if (m ~ /^v[a-z]/ && m != "verr" && m != "verw" || $0 ~ /%[yz]mm|%k[0-7]/ ||
        m ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|lzcnt|tzcnt|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe|adcx|adox)$/) {
      bad[fn] = bad[fn] ? bad[fn] : $0
    }
  }
  END {
    for (name in bad) { print "beyond baseline x86-64 in " name ": " bad[name]; count++ }
    if (count) exit 1
    print "portable: no instruction beyond baseline x86-64 outside the parser kernels"
  }'
