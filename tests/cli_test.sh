#!/usr/bin/env bash
# The `brix` command line: exit codes and messages of version, help and validate-config.
set -uo pipefail
brix=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0

# expect NAME WANT_RC WANT_SUBSTRING -- CMD...
expect() {
  local name=$1 want_rc=$2 want=$3
  shift 4
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want_rc || "$out" != *"$want"* ]]; then
    echo "FAIL $name: rc=$rc (want $want_rc), output:"
    echo "$out" | head -20
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

expect version 0 "brix 0." -- "$brix" version
expect help 0 "validate-config" -- "$brix" help
expect help_topic 0 "Usage: brix validate-config" -- "$brix" help validate-config
expect no_command 2 "A subcommand is required" -- "$brix"
expect unknown_command 2 "unknown command 'frobnicate'" -- "$brix" frobnicate
expect missing_file 1 "cannot open config file" -- "$brix" validate-config "$tmp/none.yaml"

printf 'log:\n  level: debug\n  format: json\n' >"$tmp/good.yaml"
expect good_config 0 "good.yaml: ok" -- "$brix" validate-config "$tmp/good.yaml"

printf 'log:\n  level: loud\n  colour: red\nextra: 1\n' >"$tmp/bad.yaml"
expect bad_level 1 "bad.yaml:2:10: log.level: must be one of" -- "$brix" validate-config "$tmp/bad.yaml"
expect bad_unknown 1 "bad.yaml:3:3: log.colour: unknown field" -- "$brix" validate-config "$tmp/bad.yaml"
expect bad_extra 1 "bad.yaml:4:1: extra: unknown field" -- "$brix" validate-config "$tmp/bad.yaml"

printf 'log: [unclosed\n' >"$tmp/syntax.yaml"
expect syntax 1 "syntax.yaml:2:1: invalid YAML" -- "$brix" validate-config "$tmp/syntax.yaml"

head -c 4096 /dev/urandom >"$tmp/garbage.yaml"
out=$("$brix" validate-config "$tmp/garbage.yaml" 2>&1)
rc=$?
if [[ $rc -ne 1 ]]; then echo "FAIL garbage: rc=$rc"; fail=$((fail + 1)); else pass=$((pass + 1)); fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
