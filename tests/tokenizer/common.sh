# Shared by run-oracle.sh and bench.sh (sourced): where the cache is, and the reference's
# node_modules, installed with `npm ci` from package-lock.json when missing or stale.
tokenizer_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tokenizer_root=$(cd "$tokenizer_here/../.." && pwd)
tokenizer_cache=${BRIX_CACHE_DIR:-$tokenizer_root/.cache}/tokenizers

# Sets tokenizer_modules to the reference's node_modules folder.
install_reference() {
  command -v node >/dev/null || { echo "node is required (Debian: nodejs)" >&2; return 1; }
  local dir=$tokenizer_cache/node
  if ! cmp -s "$tokenizer_here/package-lock.json" "$dir/package-lock.json" ||
     [[ ! -d $dir/node_modules/@lenml/tokenizers ]]; then
    mkdir -p "$dir"
    rm -f "$dir/package-lock.json"
    cp "$tokenizer_here/package.json" "$tokenizer_here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
      { rm -f "$dir/package-lock.json"; return 1; }
  fi
  tokenizer_modules=$dir/node_modules
}
