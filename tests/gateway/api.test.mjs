// brix gateway in front of two brix sim replicas, driven by the official openai npm client:
// the request path, streaming with and without usage, /v1/models, routing headers, every error
// case of the envelope, hot reload of the endpoints file, metrics and the access log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import OpenAI from 'openai';
import { startSim, startGateway, endpointsYaml, post, metrics, metricValue, eventually } from './harness.mjs';

const MODEL = 'llama-test';
const SIM_ARGS = ['--model', 'meta-llama/Llama-3.1-8B-Instruct', '--served-model-name', MODEL,
  '--profile', 'h100/llama-3.2-1b', '--mean-output-tokens', '8', '--enable-lora',
  '--lora-modules', 'sql-lora=/adapters/sql'];
let sims = [];
let gw;
let client;

before(async () => {
  sims = await Promise.all([startSim(SIM_ARGS), startSim(SIM_ARGS)]);
  gw = await startGateway(endpointsYaml(sims), ['--max-body-bytes', '1048576']);
  client = new OpenAI({ baseURL: gw.base, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
});
after(async () => {
  await gw?.stop();
  await Promise.all(sims.map((s) => s.stop()));
});

test('models: the union of what the engines serve, base model and adapter, once each', async () => {
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id).sort();
  assert.deepEqual(ids, [MODEL, 'sql-lora'].sort());
  const lora = models.data.find((m) => m.id === 'sql-lora');
  assert.equal(lora.parent, MODEL);
});

test('chat completion is proxied with target-pod, routing-strategy and request-id headers', async () => {
  const { data, response } = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 5, ignore_eos: true,
  }).withResponse();
  assert.match(data.id, /^chatcmpl-/);
  assert.equal(data.usage.completion_tokens, 5);
  assert.equal(data.choices[0].finish_reason, 'length');
  assert.match(response.headers.get('target-pod'), /^sim-[01]$/);
  assert.equal(response.headers.get('routing-strategy'), 'least-request');
  assert.match(response.headers.get('request-id'), /^[0-9a-f]{32}$/);
  assert.equal(response.headers.get('x-brix-attempt-count'), '1');
});

test('a client request id is echoed and reaches the engine', async () => {
  const { data, response } = await client.completions.create({
    model: MODEL, prompt: 'Once upon', max_tokens: 3, ignore_eos: true,
  }, { headers: { 'x-request-id': 'my-request-42' } }).withResponse();
  assert.equal(response.headers.get('request-id'), 'my-request-42');
  assert.equal(data.id, 'cmpl-my-request-42', 'vLLM names the request after X-Request-Id');
});

test('completion through an adapter name routes to an engine serving it', async () => {
  const r = await client.completions.create({ model: 'sql-lora', prompt: 'SELECT', max_tokens: 4, ignore_eos: true });
  assert.equal(r.model, 'sql-lora');
  assert.equal(r.usage.completion_tokens, 4);
});

test('streaming without usage: the client sees no usage chunk, as vLLM would send', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'Count' }], max_tokens: 6, ignore_eos: true, stream: true,
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  // Six tokens, but not necessarily six chunks: an engine that falls behind its reader merges
  // tokens into one chunk (vLLM does, and so does brix sim under CPU pressure).
  assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
  assert.ok(chunks.map((c) => c.choices[0].delta.content ?? '').join('').length > 0);
  for (const c of chunks) {
    assert.ok(c.choices.length > 0, 'no usage-only chunk');
    assert.equal(c.usage ?? null, null);
  }
  assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
  // The gateway still learned the usage (it asked the engine for it): see the access log.
  const line = await eventually(() => gw.accessLines().find((l) => l.stream && l.completion_tokens === 6),
    5000, 'access log line with usage');
  assert.equal(line.status, 200);
});

test('streaming with usage: the final usage chunk arrives', async () => {
  const stream = await client.completions.create({
    model: MODEL, prompt: 'A', max_tokens: 4, ignore_eos: true, stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 4);
});

test('routing-strategy header picks the policy per request', async () => {
  const pods = [];
  for (let i = 0; i < 4; i++) {
    const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x', max_tokens: 1 },
      { 'routing-strategy': 'round-robin' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('routing-strategy'), 'round-robin');
    pods.push(r.headers.get('target-pod'));
  }
  assert.notEqual(pods[0], pods[1]);
  assert.equal(pods[0], pods[2]);
  assert.equal(pods[1], pods[3]);
  for (const strategy of ['random', 'least-request', 'least-kv-cache']) {
    const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x', max_tokens: 1 },
      { 'routing-strategy': strategy });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('routing-strategy'), strategy);
  }
  const bad = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x' }, { 'routing-strategy': 'nope' });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error.message, /incorrect routing strategy nope/);
});

test('routing on token ids: refused without a tokenizer; with one, a conversation stays where its prefix is cached', async () => {
  const refused = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x' }, { 'routing-strategy': 'brix' });
  assert.equal(refused.status, 400);
  assert.match(refused.json.error.message, /incorrect routing strategy brix: .*no tokenizer \(start it with --tokenizer DIR\)/);

  // Where scripts/fetch-tokenizers put it (run-e2e.sh runs it first).
  const cache = process.env.BRIX_CACHE_DIR || new URL('../../.cache', import.meta.url).pathname;
  const tokenizer = `${cache}/tokenizers/llama3`;
  const tgw = await startGateway(endpointsYaml(sims), ['--tokenizer', tokenizer]);
  try {
    for (const strategy of ['brix', 'prefix-cache']) {
      // A long system prompt unique to this conversation, then turns that repeat it: every turn
      // after the first finds its prefix cached on the replica that served the first one.
      const system = `${strategy}: ` + Array.from({ length: 150 }, (_, i) => `rule ${i} is to be brief;`).join(' ');
      const messages = [{ role: 'system', content: system }];
      const pods = [];
      for (let turn = 0; turn < 6; turn++) {
        messages.push({ role: 'user', content: `Question ${turn}: what is ${turn} + ${turn}?` });
        const { data, response } = await new OpenAI({ baseURL: tgw.base, apiKey: 'unused', maxRetries: 0 })
          .chat.completions.create({ model: MODEL, messages, max_tokens: 4, ignore_eos: true },
            { headers: { 'routing-strategy': strategy } }).withResponse();
        assert.equal(response.headers.get('routing-strategy'), strategy);
        pods.push(response.headers.get('target-pod'));
        messages.push({ role: 'assistant', content: data.choices[0].message.content });
      }
      assert.deepEqual(pods, Array(6).fill(pods[0]), `${strategy}: ${pods}`);
    }
    // Streams and completions (text and ids) route too; bodies the engine rejects still get its answer.
    const stream = await post(`${tgw.base}/chat/completions`, { model: MODEL, stream: true, max_tokens: 2,
      messages: [{ role: 'user', content: 'hi' }] }, { 'routing-strategy': 'brix' });
    assert.equal(stream.status, 200);
    assert.match(stream.text, /data: \[DONE\]/);
    for (const prompt of ['The capital of France is', [791, 6864, 315]]) {
      const r = await post(`${tgw.base}/completions`, { model: MODEL, prompt, max_tokens: 2 }, { 'routing-strategy': 'brix' });
      assert.equal(r.status, 200, r.text);
    }
    const bad = await post(`${tgw.base}/chat/completions`, { model: MODEL, messages: 'x' }, { 'routing-strategy': 'brix' });
    assert.equal(bad.status, 400);  // the engine's own answer, passed through
    assert.ok(bad.headers.get('target-pod'));
    assert.ok(bad.json.error.message);
  } finally {
    await tgw.stop();
  }
});

test('errors: malformed JSON 400, missing model 400, unknown model 404 model_not_found', async () => {
  const malformed = await post(`${gw.base}/chat/completions`, '{"model": ');
  assert.equal(malformed.status, 400);
  assert.ok(malformed.json.error.message);
  const missing = await post(`${gw.base}/chat/completions`, { messages: [{ role: 'user', content: 'x' }] });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error.param, 'model');
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.code === 'model_not_found' && e.type === 'invalid_request_error');
});

test('errors: a body over the limit gets 413 in the envelope', async () => {
  const big = JSON.stringify({ model: MODEL, prompt: 'x'.repeat(2 << 20) });
  const r = await post(`${gw.base}/completions`, big);
  assert.equal(r.status, 413);
  assert.ok(r.json.error.message);
});

test('errors: an engine 4xx passes through unwrapped', async () => {
  const r = await post(`${gw.base}/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: -1 });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.type, 'BadRequestError', "vLLM's own error type");
  assert.ok(r.headers.get('target-pod'));
});

test('embeddings pass through to the engine, whatever it answers', async () => {
  // brix sim serves no embeddings: its FastAPI-style 404 comes back unwrapped from an engine.
  const r = await post(`${gw.base}/embeddings`, { model: MODEL, input: 'hello' });
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { detail: 'Not Found' });
  assert.match(r.headers.get('target-pod'), /^sim-[01]$/);
});

test('metrics: requests by model, endpoint and code; engine staleness; routing time', async () => {
  const page = await metrics(gw.url);
  const ok0 = metricValue(page, 'brix_gateway_requests_total', { model: MODEL, endpoint: 'sim-0', code: '200' }) ?? 0;
  const ok1 = metricValue(page, 'brix_gateway_requests_total', { model: MODEL, endpoint: 'sim-1', code: '200' }) ?? 0;
  assert.ok(ok0 + ok1 >= 8, page);
  assert.ok(metricValue(page, 'brix_gateway_requests_total', { model: '', code: '404' }) >= 1);
  const age = metricValue(page, 'brix_gateway_engine_metrics_age_seconds', { endpoint: 'sim-0' });
  assert.ok(age !== undefined && age < 5, `staleness ${age}`);
  assert.ok(metricValue(page, 'brix_gateway_routing_duration_seconds_count') >= 8);
  assert.ok(metricValue(page, 'brix_gateway_time_to_first_token_seconds_count', { model: MODEL }) >= 1);
  assert.equal(metricValue(page, 'brix_gateway_endpoint_healthy', { endpoint: 'sim-1' }), 1);
});

test('traceparent: the trace id is kept and logged', async () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const r = await post(`${gw.base}/completions`, { model: MODEL, prompt: 'x', max_tokens: 1 },
    { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'x-request-id': 'traced-1' });
  assert.equal(r.status, 200);
  const line = await eventually(() => gw.accessLines().find((l) => l.request_id === 'traced-1'), 5000, 'access log');
  assert.equal(line.trace_id, trace);
  assert.equal(line.model, MODEL);
  assert.match(line.endpoint, /^sim-[01]$/);
  assert.ok(line.duration_us > 0);
});

test('health and ready', async () => {
  assert.equal((await fetch(`${gw.url}/health`)).status, 200);
  const ready = await fetch(`${gw.url}/ready`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).endpoints_ready, 2);
});

test('client disconnect aborts the upstream request', async () => {
  const ac = new AbortController();
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'long' }], max_tokens: 100000, ignore_eos: true, stream: true,
  }, { signal: ac.signal });
  let n = 0;
  try {
    for await (const _ of stream) { if (++n === 3) { ac.abort(); break; } }
  } catch { /* an abort may surface as an error or end the iteration */ }
  assert.equal(n, 3);
  // max_tokens 100000 would keep an engine busy for minutes: seeing nothing running soon after
  // means the abort reached it.
  // Both engines end up with nothing running.
  await eventually(async () => {
    const pages = await Promise.all(sims.map((s) => metrics(s.url)));
    return pages.every((p) => (metricValue(p, 'vllm:num_requests_running') ?? 0) === 0);
  }, 10000, 'engines to drop the aborted request');
});

test('reload: an endpoint removed from the file stops receiving traffic, without dropping connections', async () => {
  const before = metricValue(await metrics(gw.url), 'brix_gateway_topology_generation');
  fs.writeFileSync(`${gw.file}.tmp`, endpointsYaml([sims[1]], { names: ['sim-1'] }));
  fs.renameSync(`${gw.file}.tmp`, gw.file);
  await eventually(async () => metricValue(await metrics(gw.url), 'brix_gateway_topology_generation') > before,
    10000, 'reload');
  for (let i = 0; i < 4; i++) {
    const { response } = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 }).withResponse();
    assert.equal(response.headers.get('target-pod'), 'sim-1');
  }
  // A broken file keeps the last good topology.
  fs.writeFileSync(gw.file, 'endpoints: [ {address: ');
  await new Promise((r) => setTimeout(r, 300));
  const r = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 1 });
  assert.equal(r.usage.completion_tokens, 1);
  fs.writeFileSync(gw.file, endpointsYaml(sims));
});
