// Failure handling of brix gateway against real brix sim processes: a replica killed mid-run
// (no request lost), 5xx retried on another replica, ejection and return after /health probes,
// 503 with Retry-After when nothing is healthy, 504 on the model's deadline, graceful drain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim, startGateway, endpointsYaml, post, metrics, metricValue, eventually } from './harness.mjs';

const MODEL = 'llama-test';
const SIM_ARGS = ['--served-model-name', MODEL, '--profile', 'h100/llama-3.2-1b', '--mean-output-tokens', '8'];

function clientFor(gw) {
  return new OpenAI({ baseURL: gw.base, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
}

test('a replica killed mid-run: every request is answered by the others', async () => {
  // sim-0 exits when its 11th generation request arrives, with up to 10 requests in flight.
  const sims = await Promise.all([
    startSim([...SIM_ARGS, '--crash-after', '10', '--slowdown', '20']),
    startSim([...SIM_ARGS, '--slowdown', '20']),
    startSim([...SIM_ARGS, '--slowdown', '20']),
  ]);
  const gw = await startGateway(endpointsYaml(sims), ['--routing-strategy', 'round-robin']);
  try {
    const client = clientFor(gw);
    const N = 60;
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) =>
      client.completions.create({ model: MODEL, prompt: `request ${i}`, max_tokens: 8, ignore_eos: true })
        .withResponse()));
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(failed.length, 0, `lost: ${failed.map((r) => r.reason).join('; ')}`);
    for (const r of results) assert.equal(r.value.data.usage.completion_tokens, 8);
    const page = await metrics(gw.url);
    assert.ok(metricValue(page, 'brix_gateway_retries_total', { model: MODEL }) >= 1, 'some were retried');
    await eventually(async () => metricValue(await metrics(gw.url), 'brix_gateway_endpoint_healthy', { endpoint: 'sim-0' }) === 0,
      5000, 'sim-0 ejected');
    assert.ok(metricValue(await metrics(gw.url), 'brix_gateway_ejections_total', { endpoint: 'sim-0' }) >= 1);
    // After the ejection nothing more goes to sim-0.
    for (let i = 0; i < 6; i++) {
      const { response } = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 }).withResponse();
      assert.notEqual(response.headers.get('target-pod'), 'sim-0');
    }
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('5xx from one replica is retried on another; an ejected replica returns after its probe', async () => {
  const sims = await Promise.all([startSim([...SIM_ARGS, '--error-rate', '1', '--error-status', '500']), startSim(SIM_ARGS)]);
  const gw = await startGateway(endpointsYaml(sims), ['--routing-strategy', 'round-robin', '--eject-after', '2']);
  try {
    const client = clientFor(gw);
    for (let i = 0; i < 6; i++) {
      const { response } = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 }).withResponse();
      assert.equal(response.headers.get('target-pod'), 'sim-1');
      // Round-robin sends every other request to sim-0 first until it is ejected.
      assert.match(response.headers.get('x-brix-attempt-count'), /^[12]$/);
    }
    assert.equal(metricValue(await metrics(gw.url), 'brix_gateway_endpoint_healthy', { endpoint: 'sim-0' }), 0);
    // Heal sim-0: its /health answered all along, so it returns after the first ejection (1 s).
    const healed = await post(`${sims[0].url}/admin/faults`, { error_rate: 0 });
    assert.equal(healed.status, 200, healed.text);
    await eventually(async () => metricValue(await metrics(gw.url), 'brix_gateway_endpoint_healthy', { endpoint: 'sim-0' }) === 1,
      10000, 'sim-0 back in rotation');
    const pods = new Set();
    for (let i = 0; i < 4; i++) {
      const { response } = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 }).withResponse();
      pods.add(response.headers.get('target-pod'));
    }
    assert.deepEqual([...pods].sort(), ['sim-0', 'sim-1']);
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('all replicas failing with 5xx: the last upstream error passes through unwrapped', async () => {
  const sims = await Promise.all([startSim([...SIM_ARGS, '--error-rate', '1', '--error-status', '500'])]);
  const gw = await startGateway(endpointsYaml(sims));
  try {
    const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x', max_tokens: 1 });
    assert.equal(r.status, 500);
    assert.equal(r.json.error.type, 'InternalServerError', "the engine's own body");
    assert.equal(r.headers.get('target-pod'), 'sim-0');
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('no healthy endpoint: 503 with Retry-After; a configured model without endpoints too', async () => {
  // Port 9 on loopback: nothing listens (discard), so connections are refused.
  const yaml = endpointsYaml([{ address: '127.0.0.1:9' }], { models: [MODEL], modelSpecs: [{ name: 'empty-model' }] });
  const gw = await startGateway(yaml, ['--eject-after', '1']);
  try {
    const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x' });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(r.json.error.type, 'server_error');
    // Ejected now; with every endpoint ejected the gateway still tries them (panic mode), so the
    // answer stays a 503 with Retry-After rather than a hang or a 5xx of another kind.
    const again = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x' });
    assert.equal(again.status, 503);
    assert.equal(again.headers.get('retry-after'), '1');
    assert.equal(metricValue(await metrics(gw.url), 'brix_gateway_endpoint_healthy', { endpoint: 'sim-0' }), 0);
    const empty = await post(`${gw.base}/completions`, { model: 'empty-model', prompt: 'x' });
    assert.equal(empty.status, 503);
    assert.equal((await fetch(`${gw.url}/ready`)).status, 503);
  } finally {
    await gw.stop();
  }
});

test('a model deadline gives 504 when the engine does not answer in time', async () => {
  const sims = await Promise.all([startSim([...SIM_ARGS, '--hang'])]);
  const yaml = endpointsYaml(sims, { modelSpecs: [{ name: MODEL, request_timeout: '700ms' }] });
  const gw = await startGateway(yaml);
  try {
    const started = Date.now();
    const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x', max_tokens: 2 });
    assert.equal(r.status, 504, r.text);
    assert.equal(r.json.error.code, 504);
    assert.ok(Date.now() - started < 30000);
    const s = await post(`${gw.base}/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true });
    assert.equal(s.status, 504, s.text);
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('SIGTERM drains: a stream in flight completes', async () => {
  const sims = await Promise.all([startSim([...SIM_ARGS, '--slowdown', '5'])]);
  const gw = await startGateway(endpointsYaml(sims));
  try {
    const client = clientFor(gw);
    const stream = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 40, ignore_eos: true, stream: true });
    let n = 0;
    let stopping = null;
    for await (const c of stream) {
      if (++n === 2) stopping = gw.stop();
      if (c.choices[0]?.finish_reason) assert.equal(c.choices[0].finish_reason, 'length');
    }
    assert.ok(n >= 40, `got ${n} chunks`);
    await stopping;
    assert.equal(gw.proc.exitCode, 0);
  } finally {
    await gw.stop();
    await Promise.all(sims.map((s) => s.stop()));
  }
});
