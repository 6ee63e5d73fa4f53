// Tenants through brix gateway, driven by the official openai npm client and the `brix tenant`
// command: API keys (401, 403), limits (429 with Retry-After and x-ratelimit-* headers), max
// tokens per request, token settlement from usage, trusted `user` headers, and the Redis backend
// shared by several gateways against a real redis-server: zero overshoot under concurrent
// clients, fail-closed during an outage, recovery by itself once Redis is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { startSim, startGateway, endpointsYaml, post, tempPath, eventually, metrics, metricValue } from './harness.mjs';
import { brix } from '../sim/harness.mjs';

const MODEL = 'llama-test';
const OTHER = 'other-model';
const SIM_ARGS = ['--model', 'meta-llama/Llama-3.1-8B-Instruct', '--profile', 'h100/llama-3.2-1b',
  '--mean-output-tokens', '8'];
const TOKEN = 'test-admin-token-0123456789';
const cache = process.env.BRIX_CACHE_DIR || new URL('../../.cache', import.meta.url).pathname;
const TOKENIZER = `${cache}/tokenizers/llama3`;

let sims = [];
let yaml;
let tokenFile;
let gw;  // one gateway, local quotas, admin API on

// `brix tenant ARGS` against `adminUrl`; resolves to {code, stdout, stderr}.
async function tenantCli(adminUrl, args) {
  try {
    const { stdout, stderr } = await promisify(execFile)(brix,
      ['tenant', '--admin', adminUrl, '--token-file', tokenFile, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

// Creates `name` with `flags` and one key; returns the key.
async function tenantWithKey(adminUrl, name, flags = []) {
  const created = await tenantCli(adminUrl, ['create', name, ...flags]);
  assert.equal(created.code, 0, created.stderr);
  const key = await tenantCli(adminUrl, ['key', 'create', name]);
  assert.equal(key.code, 0, key.stderr);
  return JSON.parse(key.stdout).key;
}

function client(base, apiKey) {
  return new OpenAI({ baseURL: base, apiKey, maxRetries: 0, timeout: 30000 });
}

async function chat(base, apiKey, extra = {}, headers = {}) {
  return post(`${base}/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 4, ...extra }, apiKey ? { authorization: `Bearer ${apiKey}`, ...headers } : headers);
}

before(async () => {
  sims = await Promise.all([startSim([...SIM_ARGS, '--served-model-name', MODEL]),
    startSim([...SIM_ARGS, '--served-model-name', OTHER])]);
  yaml = endpointsYaml(sims, { names: ['sim-a', 'sim-b'] });
  tokenFile = tempPath('admin-token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  gw = await startGateway(yaml, ['--tenants-db', tempPath('tenants.db'), '--admin-port', '0',
    '--admin-token-file', tokenFile, '--tokenizer', TOKENIZER]);
});
after(async () => {
  await gw?.stop();
  await Promise.all(sims.map((s) => s.stop()));
});

test('admin API: needs its token; bad specs are refused with the field path', async () => {
  const anon = await fetch(`${gw.adminUrl}/admin/v1/tenants`);
  assert.equal(anon.status, 401);
  const wrong = await fetch(`${gw.adminUrl}/admin/v1/tenants`, { headers: { authorization: 'Bearer nope-nope-nope-nope' } });
  assert.equal(wrong.status, 401);
  // The admin API is not on the serving port.
  assert.equal((await fetch(`${gw.url}/admin/v1/tenants`)).status, 404);

  const bad = await fetch(`${gw.adminUrl}/admin/v1/tenants/acme`, { method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}` }, body: '{"limits":{"requests_per_minute":-3}}' });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /limits\.requests_per_minute/);
  const badName = await tenantCli(gw.adminUrl, ['create', 'Bad/Name']);
  assert.notEqual(badName.code, 0);
  assert.match(badName.stderr, /400/);
  const noToken = await promisify(execFile)(brix, ['tenant', '--admin', gw.adminUrl, 'list'],
    { env: { ...process.env, BRIX_ADMIN_TOKEN: '' } }).catch((e) => e);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /admin token/);

  const key = await tenantWithKey(gw.adminUrl, 'admin-check', ['--requests-per-minute', '100']);
  assert.match(key, /^sk-brix-/);
  const list = JSON.parse((await tenantCli(gw.adminUrl, ['list'])).stdout);
  const spec = list.data.find((t) => t.name === 'admin-check');
  assert.equal(spec.limits.requests_per_minute, 100);
  const keys = JSON.parse((await tenantCli(gw.adminUrl, ['key', 'list', 'admin-check'])).stdout);
  assert.equal(keys.data.length, 1);
  assert.ok(!JSON.stringify(keys).includes(key), 'keys are never shown again');
});

test('keys: missing or wrong 401, revoked 401 at once, a model outside the tenant 403', async () => {
  const key = await tenantWithKey(gw.adminUrl, 'keys-check', ['--models', MODEL]);
  await assert.rejects(client(gw.base, 'sk-brix-wrong').chat.completions.create({ model: MODEL,
    messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 401 && /Incorrect API key/.test(e.message));
  const missing = await chat(gw.base, null);
  assert.equal(missing.status, 401);
  assert.equal(missing.json.error.type, 'invalid_request_error');

  const ok = await client(gw.base, key).chat.completions.create({ model: MODEL, max_tokens: 3,
    messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(ok.object, 'chat.completion');
  await assert.rejects(client(gw.base, key).chat.completions.create({ model: OTHER,
    messages: [{ role: 'user', content: 'hi' }] }),
  (e) => e.status === 403 && e.code === 'model_not_allowed');

  const id = JSON.parse((await tenantCli(gw.adminUrl, ['key', 'list', 'keys-check'])).stdout).data[0].id;
  assert.equal((await tenantCli(gw.adminUrl, ['key', 'revoke', id])).code, 0);
  assert.equal((await chat(gw.base, key)).status, 401);
  // Deleting a tenant takes its keys with it.
  const key2 = await tenantWithKey(gw.adminUrl, 'keys-check');
  assert.equal((await chat(gw.base, key2)).status, 200);
  assert.equal((await tenantCli(gw.adminUrl, ['delete', 'keys-check'])).code, 0);
  assert.equal((await chat(gw.base, key2)).status, 401);
});

test('requests per minute: 429 in the envelope with Retry-After and the remaining budget', async () => {
  const key = await tenantWithKey(gw.adminUrl, 'rpm-check', ['--requests-per-minute', '3']);
  const seen = [];
  for (let i = 0; i < 3; i++) {
    const { response } = await client(gw.base, key).chat.completions.create({ model: MODEL,
      max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(response.headers.get('x-ratelimit-limit-requests'), '3');
    seen.push(response.headers.get('x-ratelimit-remaining-requests'));
  }
  assert.deepEqual(seen, ['2', '1', '0']);
  const refused = await chat(gw.base, key);
  assert.equal(refused.status, 429);
  assert.equal(refused.json.error.type, 'requests');
  assert.equal(refused.json.error.code, 'rate_limit_exceeded');
  assert.match(refused.json.error.message, /Rate limit reached for requests per minute: Limit 3, Used 3/);
  const retry = Number(refused.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 61, `retry-after ${retry}`);
  assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
  // The official client sees a RateLimitError.
  await assert.rejects(client(gw.base, key).chat.completions.create({ model: MODEL,
    messages: [{ role: 'user', content: 'hi' }] }), (e) => e.status === 429);
  const page = await metrics(gw.url);
  assert.ok(metricValue(page, 'brix_gateway_tenant_requests_total', { tenant: 'rpm-check', outcome: 'rate_limited' }) >= 2);
  assert.equal(metricValue(page, 'brix_gateway_tenant_requests_total', { tenant: 'rpm-check', outcome: 'admitted' }), 3);
  const logged = gw.accessLines().filter((l) => l.tenant === 'rpm-check').map((l) => l.quota);
  assert.ok(logged.includes('rate_limited') && logged.includes('admitted'), JSON.stringify(logged));
});

test('max tokens per request: above is 400, absent is filled in', async () => {
  const key = await tenantWithKey(gw.adminUrl, 'maxtok-check', ['--max-tokens', '3']);
  const over = await chat(gw.base, key, { max_tokens: 50 });
  assert.equal(over.status, 400);
  assert.equal(over.json.error.param, 'max_tokens');
  const overNew = await chat(gw.base, key, { max_tokens: undefined, max_completion_tokens: 4 });
  assert.equal(overNew.status, 400);
  const filled = await client(gw.base, key).chat.completions.create({ model: MODEL, ignore_eos: true,
    messages: [{ role: 'user', content: 'count to a hundred' }] });
  assert.equal(filled.usage.completion_tokens, 3);
  // The cap is read as vLLM reads it: a numeric string or a whole float is a cap like any other,
  // kept when under the limit and refused when over, never overwritten with the limit.
  const asString = await chat(gw.base, key, { max_tokens: '2', ignore_eos: true });
  assert.equal(asString.status, 200, asString.text);
  assert.equal(asString.json.usage.completion_tokens, 2);
  const asFloat = await post(`${gw.base}/chat/completions`,
    `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"max_tokens":2.0,"ignore_eos":true}`,
    { authorization: `Bearer ${key}` });
  assert.equal(asFloat.status, 200, asFloat.text);
  assert.equal(asFloat.json.usage.completion_tokens, 2);
  const overString = await chat(gw.base, key, { max_tokens: '50' });
  assert.equal(overString.status, 400);
  assert.equal(overString.json.error.code, 'max_tokens_exceeded');
  // A value vLLM rejects is left for it to answer, not replaced by the limit.
  const bad = await chat(gw.base, key, { max_tokens: 'ten' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.param, 'body.max_tokens', bad.text);
  // A completion without max_tokens gets vLLM's 16, not the (larger) limit.
  const wide = await tenantWithKey(gw.adminUrl, 'maxtok-wide', ['--max-tokens', '40']);
  const completion = await client(gw.base, wide).completions.create({ model: MODEL, prompt: 'count',
    ignore_eos: true });
  assert.equal(completion.usage.completion_tokens, 16);
});

test('concurrency: requests beyond max_concurrent wait for none, they get 429', async () => {
  const key = await tenantWithKey(gw.adminUrl, 'conc-check', ['--max-concurrent', '2']);
  // Long streams hold their slots while the third asks.
  const c = client(gw.base, key);
  const streams = await Promise.all([0, 1].map(() => c.chat.completions.create({ model: MODEL,
    stream: true, max_tokens: 400, ignore_eos: true, messages: [{ role: 'user', content: 'go' }] })));
  const third = await chat(gw.base, key);
  assert.equal(third.status, 429);
  assert.equal(third.json.error.type, 'concurrent');
  for (const s of streams) for await (const chunk of s) { void chunk; }
  // Finished streams free their slots.
  assert.equal((await chat(gw.base, key)).status, 200);
});

test('tokens per minute: prompt counted at admission, reservation settled to usage', async () => {
  // Each request reserves its prompt plus max_tokens 100; the engine stops after about 8
  // tokens. Without settlement the third request would not fit in 300.
  const key = await tenantWithKey(gw.adminUrl, 'tpm-check', ['--tokens-per-minute', '300']);
  const c = client(gw.base, key);
  let remaining = [];
  for (let i = 0; i < 6; i++) {
    const stream = i % 2 === 1;
    const req = { model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: `question ${i}` }], stream };
    const { data, response } = await c.chat.completions.create(req).withResponse();
    if (stream) for await (const chunk of data) { void chunk; }
    remaining.push(Number(response.headers.get('x-ratelimit-remaining-tokens')));
  }
  assert.ok(remaining.every((r) => r >= 0), JSON.stringify(remaining));
  // One that can never fit has no Retry-After.
  const huge = await chat(gw.base, key, { max_tokens: 1000 });
  assert.equal(huge.status, 429);
  assert.equal(huge.json.error.type, 'tokens');
  assert.equal(huge.headers.get('retry-after'), null);
  assert.match(huge.json.error.message, /Request too large/);
});

test('the user header names the tenant only from trusted callers', async () => {
  await tenantWithKey(gw.adminUrl, 'trusted-check', ['--requests-per-minute', '1000']);
  // gw trusts nobody: the header is ignored and a key is required.
  assert.equal((await chat(gw.base, null, {}, { user: 'trusted-check' })).status, 401);
  const db = gw.proc.spawnargs[gw.proc.spawnargs.indexOf('--tenants-db') + 1];
  const trusting = await startGateway(yaml, ['--tenants-db', db, '--trusted-callers', '10.0.0.0/8,127.0.0.1']);
  try {
    const r = await chat(trusting.base, null, {}, { user: 'trusted-check' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '1000');
    assert.equal((await chat(trusting.base, null, {}, { user: 'nobody' })).status, 401);
  } finally {
    await trusting.stop();
  }
});

// A real redis-server on a free port, no persistence.
async function freePort() {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  return port;
}
async function startRedis(port) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  await eventually(() => out.includes('Ready to accept connections') || proc.exitCode !== null, 10000, 'redis-server');
  assert.equal(proc.exitCode, null, out);
  return proc;
}

test('redis: many gateways, many clients, a shared limit never overshot; outage fails closed and recovers', async () => {
  const port = await freePort();
  let redis = await startRedis(port);
  const db = tempPath('shared.db');
  const args = ['--tenants-db', db, '--quota-backend', `redis://127.0.0.1:${port}`,
    '--quota-fail', 'closed', '--quota-timeout', '200ms'];
  const first = await startGateway(yaml, [...args, '--admin-port', '0', '--admin-token-file', tokenFile]);
  const gws = [first, await startGateway(yaml, args), await startGateway(yaml, args)];
  try {
    const LIMIT = 25;
    const key = await tenantWithKey(first.adminUrl, 'shared', ['--requests-per-minute', String(LIMIT)]);
    // The other gateways read the shared database within their reload interval.
    for (const g of gws) await eventually(async () => (await chat(g.base, key, { max_tokens: 1 })).status !== 401, 10000, 'key visible');
    // Those probes counted: what is left is shared by 24 clients over 3 gateways, 8 tries each.
    const statuses = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const out = [];
      for (let j = 0; j < 8; j++) out.push((await chat(gws[(i + j) % 3].base, key, { max_tokens: 1 })).status);
      return out;
    }));
    const flat = statuses.flat();
    const accepted = flat.filter((s) => s === 200).length + gws.length;
    assert.equal(flat.filter((s) => s !== 200 && s !== 429).length, 0, JSON.stringify(flat));
    // Within one window: exactly the limit, never more.
    assert.equal(accepted, LIMIT);

    // Redis down: fail closed, quickly, with 503 in the envelope.
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const other = await tenantWithKey(first.adminUrl, 'during-outage', ['--requests-per-minute', '100']);
    const started = Date.now();
    const down = await chat(first.base, other);
    assert.equal(down.status, 503, down.text);
    assert.equal(down.json.error.code, 'rate_limiter_unavailable');
    assert.ok(Date.now() - started < 5000);
    // Back on the same port: every gateway recovers by itself.
    redis = await startRedis(port);
    for (const g of gws) {
      await eventually(async () => (await chat(g.base, other, { max_tokens: 1 })).status === 200, 15000, 'recovery');
    }
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    redis.kill('SIGKILL');
  }
});

test('redis outage with fail open: requests are admitted uncounted', async () => {
  const port = await freePort();
  const db = tempPath('open.db');
  const g = await startGateway(yaml, ['--tenants-db', db, '--quota-backend', `redis://127.0.0.1:${port}`,
    '--quota-fail', 'open', '--quota-timeout', '100ms', '--admin-port', '0', '--admin-token-file', tokenFile]);
  try {
    const key = await tenantWithKey(g.adminUrl, 'open', ['--requests-per-minute', '1']);
    // No Redis at all on that port.
    for (let i = 0; i < 3; i++) assert.equal((await chat(g.base, key)).status, 200);
    const page = await metrics(g.url);
    assert.equal(metricValue(page, 'brix_gateway_tenant_requests_total', { tenant: 'open', outcome: 'unavailable' }), 3);
  } finally {
    await g.stop();
  }
});

test('fair share: a flooding tenant queues behind its share; a quiet one overtakes its backlog', async () => {
  const db = gw.proc.spawnargs[gw.proc.spawnargs.indexOf('--tenants-db') + 1];
  const floodKey = await tenantWithKey(gw.adminUrl, 'flood');
  const calmKey = await tenantWithKey(gw.adminUrl, 'calm');
  // One replica serves MODEL, with 2 slots at the gateway.
  const fair = await startGateway(yaml, ['--tenants-db', db, '--max-in-flight-per-endpoint', '2']);
  try {
    const finished = [];
    const run = async (name, key, maxTokens) => {
      const r = await chat(fair.base, key, { max_tokens: maxTokens, ignore_eos: true });
      assert.equal(r.status, 200, r.text);
      finished.push(name);
    };
    const flood = Array.from({ length: 10 }, (_, i) => run(`flood${i}`, floodKey, 60));
    // The flood holds both slots and 8 of its requests wait.
    await eventually(async () => metricValue(await metrics(fair.url), 'brix_gateway_fair_share_waiting') === 8, 10000, 'flood queued');
    const calm = run('calm', calmKey, 2);
    await Promise.all([...flood, calm]);
    // Arrival order would put calm last; fair share lets it in at the first free slot (after at
    // most one more flood request, which ties with it on service).
    assert.ok(finished.indexOf('calm') <= 4, finished.join(' '));
    const waited = fair.accessLines().filter((l) => l.tenant === 'flood' && l.queued_us > 0);
    assert.ok(waited.length >= 8, JSON.stringify(fair.accessLines().map((l) => l.queued_us)));
  } finally {
    await fair.stop();
  }

  // Waiting past --queue-timeout: 503 `overloaded` in the envelope, with Retry-After.
  const tight = await startGateway(yaml, ['--tenants-db', db, '--max-in-flight-per-endpoint', '1',
    '--queue-timeout', '200ms']);
  try {
    const long = chat(tight.base, floodKey, { max_tokens: 300, ignore_eos: true });
    await eventually(async () => metricValue(await metrics(tight.url), 'brix_gateway_in_flight_requests', { endpoint: 'sim-a' }) >= 1,
      10000, 'first request in');
    const refused = await chat(tight.base, calmKey);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.error.code, 'overloaded');
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.equal((await long).status, 200);
  } finally {
    await tight.stop();
  }
});
