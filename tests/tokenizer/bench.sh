#!/usr/bin/env bash
# Encode throughput on one core, Brix vs the JavaScript reference, on the same texts and
# tokenizer files, in the same run: English prose (tests/tokenizer/bench/prose.txt) and code
# (every .h and .cc under src/, sorted by path, concatenated).
#
#   tests/tokenizer/bench.sh [path/to/tokenizer_bench]
#       default: build/release/src/tokenizer/tokenizer_bench (`cmake --preset release` builds it)
#
# Prints MB/s (10^6 bytes of UTF-8 input per second) for each and the ratio Brix / reference.
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench=$(realpath "${1:-$tokenizer_root/build/release/src/tokenizer/tokenizer_bench}")
[[ -x $bench ]] || { echo "bench.sh: no $bench; build the release preset first" >&2; exit 1; }

"$tokenizer_root/scripts/fetch-tokenizers" >/dev/null
install_reference
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tokenizer_root" && find src \( -name '*.h' -o -name '*.cc' \) | LC_ALL=C sort | xargs cat) \
  >"$tmp/code.txt"
cp "$tokenizer_here/bench/prose.txt" "$tmp/prose.txt"

BRIX_TOKENIZER_CACHE=$tokenizer_cache BRIX_BENCH_PROSE=$tmp/prose.txt BRIX_BENCH_CODE=$tmp/code.txt \
  "$bench" --benchmark_filter='^BM_Encode/' --benchmark_min_time=2 --benchmark_format=json \
  >"$tmp/brix.json"

printf '%-8s %-6s %9s %12s %14s %7s\n' tokenizer text bytes "Brix MB/s" "reference MB/s" ratio
for name in llama3 qwen3; do
  for kind in prose code; do
    brix=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const b = r.benchmarks.find((x) => x.name === process.argv[2]);
      console.log(b.bytes_per_second / 1e6);' "$tmp/brix.json" "BM_Encode/$name/$kind")
    ref=$(node "$tokenizer_here/bench-oracle.mjs" --modules "$tokenizer_modules" \
      --tokenizer "$tokenizer_cache/$name" --text "$tmp/$kind.txt" --seconds 3 |
      node -e 'process.stdin.on("data", (d) => console.log(JSON.parse(d).bytes_per_second / 1e6))')
    awk -v n="$name" -v k="$kind" -v size="$(wc -c <"$tmp/$kind.txt")" -v a="$brix" -v b="$ref" \
      'BEGIN { printf "%-8s %-6s %9d %12.2f %14.2f %6.1fx\n", n, k, size, a, b, a / b }' 
  done
done
