// Starts `brix gateway` (and reuses the `brix sim` starter) on loopback for the gateway tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { brix } from '../sim/harness.mjs';

export { startSim, post } from '../sim/harness.mjs';

// A temporary directory for endpoint files and access logs, removed at exit.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brix-gw-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;

export function tempPath(name) { return path.join(dir, `${files++}-${name}`); }

// The static discovery file for `sims` (objects with .url), optionally declaring `models` per
// endpoint and per-model settings.
export function endpointsYaml(sims, { models = null, modelSpecs = [], names = null } = {}) {
  let y = '';
  if (modelSpecs.length) {
    y += 'models:\n';
    for (const m of modelSpecs) {
      y += `  - name: ${JSON.stringify(m.name)}\n`;
      if (m.routing_strategy) y += `    routing_strategy: ${m.routing_strategy}\n`;
      if (m.request_timeout) y += `    request_timeout: ${m.request_timeout}\n`;
    }
  }
  y += 'endpoints:\n';
  if (!sims.length) y = y.replace('endpoints:\n', 'endpoints: []\n');
  sims.forEach((s, i) => {
    const address = s.url ? new URL(s.url).host : s.address;
    y += `  - address: ${address}\n`;
    y += `    name: ${names ? names[i] : `sim-${i}`}\n`;
    if (models) y += `    models: ${JSON.stringify(models)}\n`;
  });
  return y;
}

// Starts the gateway on a free port with `yaml` as its endpoints file; resolves to
// {url, adminUrl, base, proc, file, accessLog, stop(), kill()}.
export async function startGateway(yaml, args = []) {
  const file = tempPath('endpoints.yaml');
  fs.writeFileSync(file, yaml);
  const accessLog = tempPath('access.log');
  const proc = spawn(brix, ['gateway', '--endpoints', file, '--port', '0',
    '--access-log', accessLog, '--scrape-interval', '50ms', ...args],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: proc.stdout });
  // With --admin-port the gateway prints its admin URL on the line after the serving one.
  const wantAdmin = args.includes('--admin-port');
  let url = null;
  let adminUrl = null;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brix gateway did not start: ${stderr}`)), 60000);
    lines.on('line', (line) => {
      const m = line.match(/serving on (http:\/\/[^ ]+)/);
      if (m) url = m[1];
      const a = line.match(/admin API on (http:\/\/[^ ]+)/);
      if (a) adminUrl = a[1];
      if (url && (adminUrl || !wantAdmin)) { clearTimeout(timer); resolve(); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`brix gateway exited ${code}: ${stderr}`)); });
  });
  return {
    url,
    adminUrl,
    base: `${url}/v1`,
    proc,
    file,
    accessLog,
    stderr: () => stderr,
    accessLines() {
      if (!fs.existsSync(accessLog)) return [];
      return fs.readFileSync(accessLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

// The value of the sample `name{labels...}` in a Prometheus text page (labels matched as a
// subset), or undefined.
export function metricValue(page, name, labels = {}) {
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (.+)$/);
    if (!m || m[1] !== name) continue;
    const got = {};
    for (const pair of (m[3] || '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]] = pair[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export async function metrics(url) {
  const r = await fetch(`${url}/metrics`);
  return r.text();
}

// Polls `fn` (async, returns truthy when done) every 20 ms, failing after `ms`.
export async function eventually(fn, ms = 10000, what = 'condition') {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
