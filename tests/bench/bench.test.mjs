// brix bench end to end: real `brix sim` replicas, real `brix gateway`, the real `brix bench`
// process. The checks: two minutes of the Mooncake conversation trace at speed 1 through
// the gateway with every request accounted for and TTFT percentiles that agree with the engines'
// own histograms; the same tool pointed at one engine directly; bad input and Ctrl-C.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brix } from '../sim/harness.mjs';
import { startSim, startGateway, endpointsYaml, metrics, metricValue, tempPath } from '../gateway/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const TRACE = path.join(here, 'mooncake-2min.jsonl');
const ROOT = path.join(here, '..', '..');
const AZURE = path.join(here, '..', '..', 'src', 'workload', 'testdata', 'azure-slice.csv');
const SIM_ARGS = ['--profile', 'h100/llama-3.1-8b'];

// Runs `brix bench args...`; resolves to {code, signal, stdout, stderr}. `onStart(proc)` may
// signal it. Fails after `ms`.
async function bench(args, { ms = 400000, onStart = null } = {}) {
  const proc = spawn(brix, ['bench', '--no-progress', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  proc.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
  if (onStart) onStart(proc, () => stderr);
  const [code, signal] = await once(proc, 'exit');
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

// The sum of the engines' vllm:time_to_first_token_seconds histograms: {buckets: [[le, cum]], sum, count}.
async function engineTtft(sims) {
  const buckets = new Map();
  let sum = 0;
  let count = 0;
  for (const sim of sims) {
    for (const line of (await metrics(sim.url)).split('\n')) {
      let m = line.match(/^vllm:time_to_first_token_seconds_bucket\{.*le="([^"]+)".*\} (.+)$/);
      if (m) {
        const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
        buckets.set(le, (buckets.get(le) || 0) + Number(m[2]));
      }
      m = line.match(/^vllm:time_to_first_token_seconds_sum(?:\{.*\})? (.+)$/);
      if (m) sum += Number(m[1]);
      m = line.match(/^vllm:time_to_first_token_seconds_count(?:\{.*\})? (.+)$/);
      if (m) count += Number(m[1]);
    }
  }
  return { buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]), sum, count };
}

// The bucket [lower, upper] (seconds) of a histogram that holds the q-quantile's rank.
function bucketOf(h, q) {
  const rank = Math.ceil(q * h.count);
  let lower = 0;
  for (const [le, cum] of h.buckets) {
    if (cum >= rank) return [lower, le];
    lower = le;
  }
  return [lower, Infinity];
}

function traceLines() {
  return fs.readFileSync(TRACE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

test('two minutes of the Mooncake trace through the gateway: all accounted for, TTFT agrees with the engines', async () => {
  const sims = await Promise.all([0, 1, 2, 3].map(() => startSim(SIM_ARGS)));
  const gw = await startGateway(endpointsYaml(sims));
  try {
    const out = tempPath('report');
    const r = await bench(['--target', gw.url, '--trace', TRACE, '--out', out,
      ...sims.flatMap((s) => ['--engine-metrics', s.url])]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const rows = traceLines();
    const n = summary.requests;
    // Every request accounted for: sent = answered + failed, nothing dropped or left unsent.
    assert.equal(n.scheduled, rows.length);
    assert.equal(n.sent, rows.length);
    assert.equal(n.sent, n.ok + n.failed + n.aborted);
    assert.equal(n.ok, rows.length, JSON.stringify(summary.errors));
    assert.equal(summary.interrupted, false);
    // The prompts hold the trace's token counts exactly (usage.prompt_tokens from the engines).
    const perRequest = summary.per_request;
    const asked = rows.map((row) => row.input_length).sort((a, b) => a - b);
    const got = perRequest.map((p) => p.input_tokens).sort((a, b) => a - b);
    assert.deepEqual(got, asked);
    assert.deepEqual(perRequest.map((p) => p.output_tokens).sort((a, b) => a - b),
      rows.map((row) => row.output_length).sort((a, b) => a - b));
    // Replicas from target-pod; no retries needed.
    assert.deepEqual(Object.keys(summary.replicas).sort(), ['sim-0', 'sim-1', 'sim-2', 'sim-3']);
    assert.equal(n.retried, 0);
    assert.ok(perRequest.every((p) => p.attempts === 1));

    // The engines' own TTFT histograms: same count, mean within 10%, and each client percentile
    // inside the engine histogram's bucket for that percentile (widened by 10%): the histogram
    // cannot say more than which bucket a percentile is in.
    const h = await engineTtft(sims);
    assert.equal(h.count, rows.length);
    const client = summary.latency_ms.ttft;
    const engineMean = (h.sum / h.count) * 1000;
    assert.ok(Math.abs(client.mean - engineMean) <= 0.1 * engineMean,
      `client mean ${client.mean} ms vs engines ${engineMean} ms`);
    for (const [q, key] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']]) {
      const [lo, hi] = bucketOf(h, q);
      const v = client[key] / 1000;
      assert.ok(v >= lo * 0.9 && v <= hi * 1.1, `${key} ${v} s outside the engines' bucket [${lo}, ${hi}]`);
    }
    // brix bench's own engine-side section saw the same.
    assert.equal(summary.server_ttft.length, 1);
    assert.equal(summary.server_ttft[0].count, rows.length);
    assert.ok(Math.abs(summary.server_ttft[0].mean_ms - engineMean) < 1);

    // The people's outputs: the table on stdout and the plots.
    assert.match(r.stdout, new RegExp(`${rows.length} scheduled: ${rows.length} sent = ${rows.length} ok`));
    assert.match(r.stdout, /ttft +\d+/);
    for (const svg of ['latency_cdf.svg', 'ttft_over_time.svg', 'throughput.svg', 'requests.svg']) {
      const text = fs.readFileSync(path.join(out, svg), 'utf8');
      assert.ok(text.startsWith('<svg') && text.trimEnd().endsWith('</svg>'), svg);
      assert.ok(!text.includes('no data'), `${svg} has data`);
    }
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('the same trace pointed at one engine directly, an Azure trace, and a multi-turn workload through the gateway', async () => {
  const sim = await startSim([...SIM_ARGS, '--enable-prompt-tokens-details']);
  const gw = await startGateway(endpointsYaml([sim]));
  try {
    const out = tempPath('direct');
    const direct = await bench(['--target', sim.url, '--trace', TRACE, '--max-requests', '12', '--out', out]);
    assert.equal(direct.code, 0, direct.stderr);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.requests.ok, 12, JSON.stringify(summary.errors));
    assert.deepEqual(summary.replicas, {});  // no gateway, no target-pod
    const rows = traceLines().slice(0, 12);
    assert.deepEqual(summary.per_request.map((p) => p.input_tokens).sort((a, b) => a - b),
      rows.map((row) => row.input_length).sort((a, b) => a - b));

    // The Azure format too (no prefix information: every prompt is its own text).
    const azureOut = tempPath('azure');
    const azure = await bench(['--target', sim.url, '--trace', AZURE, '--max-requests', '5', '--speed', '10',
      '--out', azureOut]);
    assert.equal(azure.code, 0, azure.stderr);
    const az = JSON.parse(fs.readFileSync(path.join(azureOut, 'summary.json'), 'utf8'));
    assert.equal(az.requests.ok, 5, JSON.stringify(az.errors));
    const azureRows = fs.readFileSync(AZURE, 'utf8').trim().split('\n').slice(1, 6).map((l) => l.split(','));
    assert.deepEqual(az.per_request.map((p) => p.input_tokens), azureRows.map((r) => Number(r[1])));
    assert.deepEqual(az.per_request.map((p) => p.output_tokens), azureRows.map((r) => Number(r[2])));

    // Sessions of three turns: later turns carry the conversation, so their prompts grow, and
    // the engine's prefix cache serves the shared part.
    const hitsBefore = metricValue(await metrics(sim.url), 'vllm:prefix_cache_hits_total');
    const multiOut = tempPath('multi');
    const multi = await bench(['--target', gw.url, '--rate', '4', '--duration', '2s', '--arrival', 'constant',
      '--turns', '3', '--think-time', '100ms', '--prefix-groups', '2', '--prefix-tokens', '300',
      '--input-tokens', '40', '--output-tokens', '12', '--out', multiOut, '--json']);
    assert.equal(multi.code, 0, multi.stderr);
    const m = JSON.parse(multi.stdout);
    assert.equal(m.requests.scheduled, 24);
    assert.equal(m.requests.ok, 24, JSON.stringify(m.errors));
    assert.equal(m.throughput.output_tokens, 24 * 12);
    const turns = JSON.parse(fs.readFileSync(path.join(multiOut, 'summary.json'), 'utf8')).per_request;
    for (let i = 0; i < 24; i += 3) {
      assert.equal(turns[i].input_tokens, 340);  // 300 shared + 40 own, chat template included
      assert.ok(turns[i + 1].input_tokens > 340 + 12 + 40, JSON.stringify(turns[i + 1]));
      assert.ok(turns[i + 2].input_tokens > turns[i + 1].input_tokens + 12 + 40);
      assert.ok(turns[i + 1].scheduled_s >= turns[i].scheduled_s + turns[i].e2e_ms / 1000);
      // usage.prompt_tokens_details.cached_tokens, per request: a later turn finds at least the
      // shared prefix and never more than its prompt.
      for (const t of [turns[i + 1], turns[i + 2]]) {
        assert.ok(t.cached_tokens >= 256 && t.cached_tokens < t.input_tokens, JSON.stringify(t));
      }
    }
    const hitsAfter = metricValue(await metrics(sim.url), 'vllm:prefix_cache_hits_total');
    assert.ok(hitsAfter - hitsBefore > 8 * 2 * 300, `prefix cache hits ${hitsBefore} -> ${hitsAfter}`);
  } finally {
    await gw.stop();
    await sim.stop();
  }
});

test('bad input: a malformed trace line names its line; an unreachable target is named', async () => {
  const bad = tempPath('bad.jsonl');
  fs.writeFileSync(bad, '{"timestamp": 0, "input_length": 10, "output_length": 2}\n\n{"timestamp": 5, "input_length": 10}\n');
  const port = await freePort();
  const malformed = await bench(['--target', `http://127.0.0.1:${port}`, '--trace', bad]);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /bad\.jsonl:3: output_length: missing/);

  const unreachable = await bench(['--target', `http://127.0.0.1:${port}`, '--rate', '1']);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, new RegExp(`cannot reach http://127.0.0.1:${port}: .*refused`));

  const usage = await bench(['--target', `http://127.0.0.1:${port}`]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--trace FILE, or --rate R/);
});

test('Ctrl-C stops the run and prints the partial report', async () => {
  const sim = await startSim(SIM_ARGS);
  try {
    const out = tempPath('interrupted');
    const r = await bench(['--target', sim.url, '--rate', '10', '--duration', '60s', '--input-tokens', '100',
      '--output-tokens', '3000', '--out', out], {
      onStart: (proc, stderr) => {
        // Interrupt once the run is under way (its first line is printed before the clock starts).
        const poll = setInterval(() => {
          if (stderr().includes('->')) {
            clearInterval(poll);
            setTimeout(() => proc.kill('SIGINT'), 1500);
          }
        }, 50);
      },
    });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted; stopping and printing the partial report/);
    assert.match(r.stdout, /\(interrupted\)/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    const n = summary.requests;
    assert.equal(summary.interrupted, true);
    assert.ok(n.aborted > 0, JSON.stringify(n));
    assert.ok(n.not_sent > 0, JSON.stringify(n));
    assert.equal(n.sent, n.ok + n.failed + n.aborted);
    assert.equal(n.scheduled, n.sent + n.not_sent);
  } finally {
    await sim.stop();
  }
});

test('brix bench sim replays the same trace in virtual time with the same report', async () => {
  const out = tempPath('sim-report');  // does not exist yet: --out creates it
  const r = await bench(['sim', '--trace', TRACE, '--replicas', '4', '--routing-strategy', 'round-robin', '--json',
    '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'latency_cdf.svg')));
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).per_request.length, 339);
  const summary = JSON.parse(r.stdout);
  const rows = traceLines();
  assert.equal(summary.requests.ok, rows.length);
  assert.equal(summary.cluster_replicas.length, 4);
  const routed = summary.cluster_replicas.map((x) => x.requests);
  assert.ok(Math.max(...routed) - Math.min(...routed) <= 1, `round-robin: ${routed}`);
  assert.ok(summary.simulated_s > 100 && summary.wall_s < 30, `${summary.simulated_s} s in ${summary.wall_s} s`);
  assert.ok(summary.latency_ms.ttft.p50 > 0);
  // scripts/tail-anatomy reads the per-request records: 339 answered, the top 1% is 4 requests.
  const anatomy = spawnSync('python3', [path.join(ROOT, 'scripts/tail-anatomy'), path.join(out, 'summary.json')],
    { encoding: 'utf8' });
  assert.equal(anatomy.status, 0, anatomy.stderr);
  assert.match(anatomy.stdout, /339 answered/);
  assert.match(anatomy.stdout, /^tail: 4 requests, TTFT \d+-\d+ ms; misses \d+ \(/m);
  assert.match(anatomy.stdout, /^tail by replica: replica-/m);

  // A mixed fleet, Brix's own policy (it routes on token ids), and a weighted combination.
  const mixed = await bench(['sim', '--trace', TRACE, '--profile', 'h100/llama-3.1-8b:2,h200/llama-3.1-8b:1',
    '--routing-strategy', 'brix', '--json']);
  assert.equal(mixed.code, 0, mixed.stderr);
  const m = JSON.parse(mixed.stdout);
  assert.match(m.target, /2 x h100\/llama-3.1-8b \+ 1 x h200\/llama-3.1-8b, routing brix/);
  assert.equal(m.cluster_replicas.length, 3);
  assert.equal(m.requests.ok, rows.length);
  const weighted = await bench(['sim', '--trace', TRACE, '--routing-strategy', 'prefix-cache:2,least-request', '--json']);
  assert.equal(weighted.code, 0, weighted.stderr);
  const uncounted = await bench(['sim', '--trace', TRACE, '--profile', 'h100/llama-3.1-8b,h200/llama-3.1-8b']);
  assert.equal(uncounted.code, 2);
  assert.match(uncounted.stderr, /needs a replica count for each/);

  const bad = await bench(['sim', '--trace', TRACE, '--routing-strategy', 'fastest']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /fastest/);
  const noTarget = await bench(['--trace', TRACE]);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /--target is required/);
});
