#!/usr/bin/env bash
# The `brix` command line: exit codes and messages of version, help, validate-config, and the
# usage errors of `brix tenant`, the gateway's tenancy flags, `brix sim`, `brix up` and the
# control commands.
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

# brix tenant and the gateway's tenancy flags: usage errors say what is missing, exit 2.
printf 'endpoints: []\n' >"$tmp/endpoints.yaml"
expect tenant_no_sub 2 "A subcommand is required" -- "$brix" tenant
expect tenant_no_url 2 "no admin URL" -- env -u BRIX_ADMIN_URL "$brix" tenant list
expect tenant_bad_url 2 "want http://HOST:PORT" -- "$brix" tenant --admin ftp://x:1 list
expect tenant_no_token 2 "no admin token" -- env -u BRIX_ADMIN_TOKEN "$brix" tenant --admin http://127.0.0.1:1 list
expect tenant_bad_limit 2 "requests-per-minute" -- "$brix" tenant --admin http://127.0.0.1:1 create acme --requests-per-minute -5
printf 'a-long-enough-admin-token\n' >"$tmp/token"
expect tenant_unreachable 1 "http://127.0.0.1:1" -- "$brix" tenant --admin http://127.0.0.1:1 --token-file "$tmp/token" list
# Values JSON cannot carry are refused here, not sent on as NaN or Infinity.
expect tenant_nan_weight 2 "--weight: must be a number" -- "$brix" tenant --admin http://127.0.0.1:1 --token-file "$tmp/token" create acme --weight nan
printf '{"weight": 1e999}\n' >"$tmp/inf-spec.json"
expect tenant_inf_spec 2 "inf-spec.json is not JSON" -- "$brix" tenant --admin http://127.0.0.1:1 --token-file "$tmp/token" create acme --spec "$tmp/inf-spec.json"
expect gw_admin_no_db 2 "--admin-port needs --tenants-db" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --admin-port 0
printf 'short\n' >"$tmp/short"
expect gw_short_token 2 "at least 16 characters" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --tenants-db "$tmp/t.db" --admin-port 0 --admin-token-file "$tmp/short"
expect gw_quota_fail 2 "--quota-fail: must be open or closed" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --quota-fail maybe
expect gw_bad_redis 1 "redis" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --tenants-db "$tmp/t.db" --quota-backend redis://
expect gw_bad_trusted 1 "trusted caller" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --tenants-db "$tmp/t.db" --trusted-callers 10.0.0.0/99

# brix sim: an error rate of NaN passes CLI11's range check; GET /admin/faults could not show it.
expect sim_nan_error_rate 1 "--error-rate: must be in [0, 1]" -- "$brix" sim --error-rate nan --tokenizer "$tmp/none"

# brix up and apply/get/delete/describe: bad manifests are refused before anything starts, with
# the file, line and field path; without a running brix up the commands say where they looked.
printf 'apiVersion: brix.dev/v1alpha1\nkind: ModelDeployment\nmetadata:\n  name: m\nspec:\n  model: m\n  replicas: many\n' >"$tmp/bad-md.yaml"
expect up_bad_manifest 2 "bad-md.yaml:7:13: spec.replicas: must be an integer" -- "$brix" up -f "$tmp/bad-md.yaml" --state-dir "$tmp/state"
expect up_missing_manifest 2 "cannot read" -- "$brix" up -f "$tmp/none.yaml" --state-dir "$tmp/state"
expect apply_bad_manifest 2 "bad-md.yaml:7:13: spec.replicas" -- "$brix" apply -f "$tmp/bad-md.yaml" --state-dir "$tmp/state"
expect apply_no_file 2 "--file is required" -- "$brix" apply
expect get_no_controller 1 "no controller" -- env -u BRIX_CONTROLLER_URL "$brix" get --state-dir "$tmp/state"
expect get_bad_type 2 "unknown type 'pods'" -- "$brix" get pods --state-dir "$tmp/state"
expect delete_usage 2 "delete modeldeployment NAME" -- "$brix" delete --state-dir "$tmp/state"
expect gw_no_source 2 "exactly one of --endpoints and --controller" -- "$brix" gateway
expect gw_both_sources 2 "exactly one of --endpoints and --controller" -- "$brix" gateway --endpoints "$tmp/endpoints.yaml" --controller http://127.0.0.1:1
expect gw_controller_down 1 "controller at 127.0.0.1:1" -- env BRIX_ADMIN_TOKEN=0123456789abcdef0123 "$brix" gateway --controller http://127.0.0.1:1 --port 0
expect describe_unreachable 1 "127.0.0.1:1" -- env BRIX_ADMIN_TOKEN=0123456789abcdef0123 "$brix" describe md x --controller http://127.0.0.1:1

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
