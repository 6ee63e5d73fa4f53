// Starts `brix sim` processes on loopback for the tests and stops them afterwards.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';

// BRIX: path of the brix binary (run-e2e.sh sets it).
export const brix = process.env.BRIX;
if (!brix) throw new Error('set BRIX to the brix binary');

// Starts `brix sim` with `args` on a free port; resolves to {url, base, proc, stop()} once it
// prints its "serving ... on http://host:port" line. Fails after 60 s.
export async function startSim(args = []) {
  const proc = spawn(brix, ['sim', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: proc.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brix sim did not start: ${stderr}`)), 60000);
    lines.on('line', (line) => {
      const m = line.match(/on (http:\/\/[^ ]+)$/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`brix sim exited ${code}: ${stderr}`)); });
  });
  return {
    url,
    base: `${url}/v1`,
    proc,
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

// POST JSON with fetch; returns {status, headers, text, json}.
export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, text, json };
}
