// `brix up` end to end (issue 9): the controller, its engine processes and the gateway in one
// command, driven with the official openai client and the `brix` CLI, through scale changes,
// an engine killed with SIGKILL under load, and the controller itself killed and restarted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import OpenAI from 'openai';
import { brix } from '../sim/harness.mjs';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'brix-up-'));
const state = path.join(dir, 'state');
const instance = path.join(state, 'brix.db');

// The engines of this test's controller, found as the controller finds them: by the marker in
// their environment. Only the engines themselves (not an engine's own workers).
function engines() {
  const found = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let env;
    try { env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8'); } catch { continue; }
    const vars = env.split('\0');
    if (!vars.includes(`BRIX_CONTROLLER=${instance}`)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
    } catch { continue; }
    const replica = vars.find((v) => v.startsWith('BRIX_REPLICA='));
    found.push({ pid: Number(pid), replica: replica && replica.split('/').pop() });
  }
  return found;
}

after(() => {
  for (const e of engines()) { try { process.kill(e.pid, 'SIGKILL'); } catch { /* gone */ } }
  fs.rmSync(dir, { recursive: true, force: true });
});

function manifest(replicas, extra = '') {
  return `# a test deployment
apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: llama
spec:
  model: llama-3.1-8b
  replicas: ${replicas}
  engine:
    type: sim
    profile: h100/llama-3.2-1b
${extra}`;
}

function writeManifest(name, text) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

// Runs the brix CLI; resolves to {code, stdout, stderr}.
function cli(args) {
  return new Promise((resolve) => {
    execFile(brix, [...args, '--state-dir', state], { timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function replicas() {
  const r = await cli(['get', 'replicas', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).items;
}

async function eventually(fn, ms, what) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function readyCount() {
  return (await replicas()).filter((r) => r.state === 'ready').length;
}

// Starts `brix up`; resolves when it printed its URLs.
async function up(args = []) {
  const proc = spawn(brix, ['up', '--port', '0', '--state-dir', state, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stderr.on('data', (d) => { output += d; });
  const lines = readline.createInterface({ input: proc.stdout });
  lines.on('line', (l) => { output += `${l}\n`; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`brix up did not start: ${output}`)), 60000);
    lines.on('line', (line) => {
      const m = line.match(/^brix up: gateway +(http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`brix up exited ${code}: ${output}`)); });
  });
  return { proc, url, output: () => output };
}

function adminAccess() {
  const info = JSON.parse(fs.readFileSync(path.join(state, 'up.json'), 'utf8'));
  const token = fs.readFileSync(info.tokenFile, 'utf8').trim();
  return { url: info.admin, headers: { authorization: `Bearer ${token}` } };
}

// Bounded load: `workers` loops of short non-streamed chat requests until stop() (or 20,000
// requests, or 120 s). Every failure is kept; target-pod counts show where requests went.
function load(url, workers = 4) {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
  let stopped = false;
  const deadline = Date.now() + 120000;
  const result = { ok: 0, failures: [], pods: new Map() };
  const loops = [];
  for (let w = 0; w < workers; w++) {
    loops.push((async () => {
      while (!stopped && Date.now() < deadline && result.ok + result.failures.length < 20000) {
        try {
          const { data, response } = await client.chat.completions.create({
            model: 'llama-3.1-8b',
            messages: [{ role: 'user', content: `worker ${w} says hello` }],
            max_tokens: 4,
          }).withResponse();
          assert.equal(data.choices.length, 1);
          const pod = response.headers.get('target-pod');
          result.pods.set(pod, (result.pods.get(pod) || 0) + 1);
          result.ok++;
        } catch (e) {
          result.failures.push(String(e));
        }
      }
    })());
  }
  return {
    result,
    async stop() { stopped = true; await Promise.all(loops); return result; },
  };
}

test('brix up runs, scales, heals and survives its own SIGKILL', { timeout: 600000 }, async (t) => {
  let u = await up(['-f', writeManifest('two.yaml', manifest(2))]);
  await eventually(async () => (await readyCount()) === 2, 60000, 'two ready replicas');

  await t.test('the openai client completes chat requests through the printed URL', async () => {
    const client = new OpenAI({ baseURL: `${u.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const chat = await client.chat.completions.create({
      model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8,
    });
    assert.equal(typeof chat.choices[0].message.content, 'string');
    assert.ok(chat.usage.completion_tokens >= 1 && chat.usage.completion_tokens <= 8);
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['llama-3.1-8b']);
    const stream = await client.chat.completions.create({
      model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, stream: true,
    });
    let chunks = 0;
    let finish = null;
    for await (const c of stream) {
      chunks += c.choices.length;
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    // Five tokens at most (the simulated model may draw its end-of-sequence token earlier).
    assert.ok(chunks >= 1 && chunks <= 7, `${chunks} chunks`);
    assert.ok(finish === 'length' || finish === 'stop', String(finish));
  });

  await t.test('brix get lists the deployment and its replicas', async () => {
    const r = await cli(['get']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /default +llama +llama-3\.1-8b +2\/2/);
    const rows = r.stdout.split('\n').filter((l) => /^llama-\S+ +llama +ready/.test(l));
    assert.equal(rows.length, 2, r.stdout);
    const d = await cli(['describe', 'modeldeployment', 'llama']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /Replicas: +2 desired, 2 ready, 2 up to date/);
  });

  await t.test('scaling up and down under load fails no request', async () => {
    const l = load(u.url);
    const apply3 = await cli(['apply', '-f', writeManifest('three.yaml', manifest(3))]);
    assert.equal(apply3.code, 0, apply3.stderr);
    assert.match(apply3.stdout, /modeldeployment\/llama configured/);
    await eventually(async () => (await readyCount()) === 3, 60000, 'three ready replicas');
    const three = (await replicas()).map((r) => r.name);
    // The new replica takes traffic.
    await eventually(() => three.every((n) => l.result.pods.get(n) > 0), 20000, 'traffic on all three');
    const apply1 = await cli(['apply', '-f', writeManifest('one.yaml', manifest(1))]);
    assert.equal(apply1.code, 0, apply1.stderr);
    await eventually(async () => (await replicas()).length === 1 && engines().length === 1, 60000,
      'one replica left');
    const before = l.result.ok;
    await eventually(() => l.result.ok > before + 20, 20000, 'requests after the scale-down');
    const res = await l.stop();
    assert.deepEqual(res.failures, [], `${res.failures.length} of ${res.ok + res.failures.length} failed`);
    assert.ok(res.ok > 50, `only ${res.ok} requests`);
    const again = await cli(['apply', '-f', path.join(dir, 'one.yaml')]);
    assert.match(again.stdout, /modeldeployment\/llama unchanged/);
  });

  await t.test('a spec change rolls the replicas under load without failing a request', async () => {
    const l = load(u.url);
    await eventually(() => l.result.ok > 20, 20000, 'load running');
    const before = (await replicas()).map((r) => r.name);
    const changed = manifest(1).replace('h100/llama-3.2-1b', 'h200/llama-3.2-1b');
    const applied = await cli(['apply', '-f', writeManifest('h200.yaml', changed)]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /configured/);
    await eventually(async () => {
      const now = await replicas();
      return now.length === 1 && now[0].state === 'ready' && now[0].current &&
        !before.includes(now[0].name) && engines().length === 1;
    }, 60000, 'the replaced replica');
    const after = l.result.ok;
    await eventually(() => l.result.ok > after + 20, 20000, 'requests after the rollout');
    const res = await l.stop();
    assert.deepEqual(res.failures, [], `${res.failures.length} of ${res.ok + res.failures.length} failed`);
    const d = await cli(['describe', 'modeldeployment', 'llama']);
    assert.match(d.stdout, /Generation: +\d+ \(observed \d+\)/);
    assert.match(d.stdout, /h200\/llama-3\.2-1b/);
  });

  await t.test('an engine killed with SIGKILL under load: out of rotation within 1 s, restarted, no request lost', async () => {
    const apply = await cli(['apply', '-f', writeManifest('two-again.yaml', manifest(2))]);
    assert.equal(apply.code, 0, apply.stderr);
    // The manifest also takes the profile back from h200 to h100, so this is a roll as well as a
    // scale-up: wait until it is over (two current, ready replicas and nothing else), or the
    // victim could be one still starting or already draining, which is in no topology.
    await eventually(async () => {
      const now = await replicas();
      return now.length === 2 && now.every((r) => r.state === 'ready' && r.current) &&
        engines().length === 2;
    }, 60000, 'two current ready replicas');
    const admin = adminAccess();
    const topo = await (await fetch(`${admin.url}/v1/topology?timeoutMs=0`, { headers: admin.headers })).json();
    assert.equal(topo.endpoints.length, 2);
    const l = load(u.url);
    await eventually(() => l.result.ok > 50, 20000, 'load running');
    const victim = (await replicas())[0];
    assert.ok(topo.endpoints.some((e) => e.port === victim.port),
      `${victim.name} (port ${victim.port}) is not in the topology ${JSON.stringify(topo.endpoints)}`);
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    // The gateway's topology (the same object in-process) drops it.
    let gone = null;
    for (let after = topo.generation; !gone;) {
      const next = await (await fetch(`${admin.url}/v1/topology?after=${after}&epoch=${topo.epoch}&timeoutMs=5000`,
        { headers: admin.headers })).json();
      assert.ok(next.generation > after, 'no topology change within 5 s');
      if (!next.endpoints.some((e) => e.port === victim.port)) gone = Date.now();
      after = next.generation;
    }
    const outOfRotationMs = gone - killedAt;
    assert.ok(outOfRotationMs < 1000, `took ${outOfRotationMs} ms`);
    // The controller restarts it under the same name.
    await eventually(async () => (await replicas()).some((r) => r.name === victim.name &&
      r.state === 'ready' && r.pid !== victim.pid && r.restarts === 1), 30000, 'the restart');
    const before = l.result.ok;
    await eventually(() => l.result.ok > before + 20, 20000, 'requests after the restart');
    const res = await l.stop();
    assert.deepEqual(res.failures, [], `${res.failures.length} of ${res.ok + res.failures.length} failed`);
    const g = await cli(['get', 'replicas']);
    assert.match(g.stdout, /killed by signal 9/);
    t.diagnostic(`out of rotation ${outOfRotationMs} ms after SIGKILL; ${res.ok} requests, none failed`);
  });

  await t.test('a gateway in another process learns the replicas from the controller', async () => {
    const info = JSON.parse(fs.readFileSync(path.join(state, 'up.json'), 'utf8'));
    const gw = spawn(brix, ['gateway', '--controller', info.admin, '--controller-token-file',
      info.tokenFile, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines = readline.createInterface({ input: gw.stdout });
      const url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('brix gateway did not start')), 30000);
        lines.on('line', (l) => {
          const m = l.match(/serving on (http:\/\/\S+)/);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
        gw.on('exit', (code) => { clearTimeout(timer); reject(new Error(`brix gateway exited ${code}`)); });
      });
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const pods = new Set();
      for (let i = 0; i < 20; i++) {
        const { data, response } = await client.chat.completions.create({
          model: 'llama-3.1-8b', messages: [{ role: 'user', content: `remote ${i}` }], max_tokens: 2,
        }).withResponse();
        assert.equal(data.choices.length, 1);
        pods.add(response.headers.get('target-pod'));
      }
      const names = new Set((await replicas()).map((r) => r.name));
      assert.ok([...pods].every((p) => names.has(p)), `${[...pods]} vs ${[...names]}`);
    } finally {
      gw.kill('SIGTERM');
      await once(gw, 'exit');
    }
  });

  await t.test('the controller killed with SIGKILL and started again: objects back, engines adopted, none twice', async () => {
    const before = (await replicas()).filter((r) => r.state === 'ready');
    assert.equal(before.length, 2);
    // A replica the roll or the scale-down stopped may still be draining; start from two engines.
    await eventually(() => engines().length === 2, 30000, 'no engine still stopping');
    u.proc.kill('SIGKILL');
    await once(u.proc, 'exit');
    // The engines outlive it.
    assert.equal(engines().length, 2);
    u = await up();  // no -f: everything comes from the store
    await eventually(async () => (await readyCount()) === 2, 30000, 'adopted replicas ready');
    const now = await replicas();
    assert.deepEqual(now.map((r) => [r.name, r.pid, r.port]).sort(),
      before.map((r) => [r.name, r.pid, r.port]).sort());
    assert.ok(now.every((r) => r.adopted));
    const running = engines();
    assert.equal(running.length, 2, JSON.stringify(running));
    assert.equal(new Set(running.map((e) => e.replica)).size, 2);
    const client = new OpenAI({ baseURL: `${u.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const chat = await client.chat.completions.create({
      model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3,
    });
    assert.ok(chat.usage.completion_tokens >= 1 && chat.usage.completion_tokens <= 3);
    const g = await cli(['get', 'modeldeployments']);
    assert.match(g.stdout, /default +llama +llama-3\.1-8b +2\/2/);
  });

  await t.test('a second model is applied, served next to the first, and deleted', async () => {
    const qwen = `apiVersion: brix.dev/v1alpha1
kind: ModelDeployment
metadata:
  name: qwen
spec:
  model: qwen-14b
  replicas: 1
  routingStrategy: least-request
  engine:
    profile: h100/qwen2.5-14b
`;
    const applied = await cli(['apply', '-f', writeManifest('qwen.yaml', qwen)]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /modeldeployment\/qwen created/);
    await eventually(async () => (await replicas()).some((r) => r.deployment === 'qwen' && r.state === 'ready'),
      60000, 'the qwen replica');
    const client = new OpenAI({ baseURL: `${u.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids = (await client.models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(ids, ['llama-3.1-8b', 'qwen-14b']);
    const { data, response } = await client.chat.completions.create({
      model: 'qwen-14b', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2,
    }).withResponse();
    assert.equal(data.model, 'qwen-14b');
    assert.match(response.headers.get('target-pod'), /^qwen-/);
    assert.equal(response.headers.get('routing-strategy'), 'least-request');
    const deleted = await cli(['delete', 'modeldeployment', 'qwen']);
    assert.equal(deleted.code, 0, deleted.stderr);
    await eventually(async () => !(await replicas()).some((r) => r.deployment === 'qwen') &&
      engines().length === 2, 30000, 'the qwen replica gone');
    const after = (await client.models.list()).data.map((m) => m.id);
    assert.deepEqual(after, ['llama-3.1-8b']);
    const missing = await cli(['describe', 'modeldeployment', 'qwen']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });

  await t.test('bad manifests are refused with the field path and change nothing', async () => {
    const cases = [
      [manifest(2).replace('kind: ModelDeployment', 'kind: ModelDeploy'), /bad\.yaml:3:7: kind: unknown kind "ModelDeploy"/],
      [manifest(2).replace('replicas: 2', 'replicas: "2"'), /bad\.yaml:8:13: spec\.replicas: must be an integer/],
      [manifest(2).replace('    profile:', '    colour: red\n    profile:'), /bad\.yaml:11:5: spec\.engine\.colour: unknown field/],
      [manifest(2).replace('replicas: 2', 'replicas: [2]'), /spec\.replicas: must be an integer/],
    ];
    for (const [text, want] of cases) {
      const r = await cli(['apply', '-f', writeManifest('bad.yaml', text)]);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, want);
    }
    // The API checks too, for clients that skip the CLI.
    const admin = adminAccess();
    const res = await fetch(`${admin.url}/apis/brix.dev/v1alpha1/namespaces/default/modeldeployments/llama`, {
      method: 'PUT',
      headers: { ...admin.headers, 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'brix.dev/v1alpha1', kind: 'ModelDeployment',
        metadata: { name: 'llama' }, spec: { model: 'llama-3.1-8b', replicas: -1 } }),
    });
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /^spec\.replicas: must be an integer/);
    const unauthorized = await fetch(`${admin.url}/v1/replicas`);
    assert.equal(unauthorized.status, 401);
    assert.equal((await replicas()).length, 2);
  });

  await t.test('Ctrl-C drains and stops everything', async () => {
    u.proc.kill('SIGINT');
    const [code] = await once(u.proc, 'exit');
    assert.equal(code, 0, u.output());
    assert.deepEqual(engines(), []);
    assert.ok(!fs.existsSync(path.join(state, 'up.json')));
    const r = await cli(['get']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no controller/);
  });
});
