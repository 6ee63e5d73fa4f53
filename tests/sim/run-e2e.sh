#!/usr/bin/env bash
# Runs node end-to-end tests (node's test runner, the official openai client): by default those of
# `brix sim`; tests/gateway's are passed as files.
#   tests/sim/run-e2e.sh path/to/brix [test files...]
# Installs the client with `npm ci` into .cache/node/sim when package-lock.json changed, and the
# tokenizers with scripts/fetch-tokenizers. ctest runs it as sim_e2e and gateway_e2e.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export BRIX=$(realpath "$1")
shift
command -v node >/dev/null || { echo "node is required (Debian: nodejs)" >&2; exit 1; }
"$root/scripts/fetch-tokenizers" >/dev/null
modules=${BRIX_CACHE_DIR:-$root/.cache}/node/sim
if ! cmp -s "$here/package-lock.json" "$modules/package-lock.json" || [[ ! -d $modules/node_modules/openai ]]; then
  mkdir -p "$modules"
  rm -f "$modules/package-lock.json"
  cp "$here/package.json" "$here/package-lock.json" "$modules/"
  (cd "$modules" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
export NODE_PATH=$modules/node_modules
files=("$@")
[[ ${#files[@]} -gt 0 ]] || files=("$here"/*.test.mjs)
# ESM ignores NODE_PATH; a symlink above the test folders lets `import 'openai'` resolve from
# tests/sim and tests/gateway alike.
ln -sfn "$modules/node_modules" "$root/tests/node_modules"
rm -f "$here/node_modules"
exec node --test --test-concurrency=1 "${files[@]}"
