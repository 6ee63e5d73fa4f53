// brix sim against the official openai npm client: the surface a vLLM client sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim, post } from './harness.mjs';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
let sim;
let client;

before(async () => {
  sim = await startSim(['--model', MODEL, '--profile', 'h100/llama-3.1-8b', '--enable-lora',
    '--max-loras', '2', '--mean-output-tokens', '20']);
  // No retries: a test must see the first answer, not a retried one.
  client = new OpenAI({ baseURL: sim.base, apiKey: 'unused', maxRetries: 0, timeout: 30000 });
});
after(async () => { await sim.stop(); });

async function tokenCount(text) {
  const r = await post(`${sim.url}/tokenize`, { model: MODEL, prompt: text, add_special_tokens: false });
  assert.equal(r.status, 200, r.text);
  return r.json.count;
}

test('models lists the served model', async () => {
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.deepEqual(ids, [MODEL]);
  assert.equal(models.data[0].owned_by, 'vllm');
  assert.equal(models.data[0].max_model_len, 131072);
});

test('chat completion: length finish, usage, text tokenises back to the count', async () => {
  const r = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name a colour.' }],
    max_tokens: 12,
    ignore_eos: true,
  });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.usage.completion_tokens, 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 12);
  assert.ok(r.usage.prompt_tokens > 10);
  assert.equal(await tokenCount(r.choices[0].message.content), 12);
});

test('chat completion without ignore_eos stops naturally: EOS counted, not in the text', async () => {
  let stops = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const r = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 200, seed,
    });
    const c = r.choices[0];
    if (c.finish_reason === 'stop') {
      stops++;
      assert.equal(await tokenCount(c.message.content), r.usage.completion_tokens - 1);
    } else {
      assert.equal(c.finish_reason, 'length');
      assert.equal(r.usage.completion_tokens, 200);
    }
  }
  assert.ok(stops >= 15, `only ${stops} of 20 answers ended naturally with mean 20 tokens`);
});

test('same seed, same answer; min_tokens holds EOS back', async () => {
  const ask = (seed) => client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'tell me' }], max_tokens: 64, seed, min_tokens: 30,
  });
  const [a, b, c] = await Promise.all([ask(7), ask(7), ask(8)]);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  assert.notEqual(a.choices[0].message.content, c.choices[0].message.content);
  assert.ok(a.usage.completion_tokens >= 31);
});

test('completion: text prompt and token-id prompt', async () => {
  const r = await client.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5, ignore_eos: true });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
  assert.equal(await tokenCount(r.choices[0].text), 5);
  const ids = await client.completions.create({ model: MODEL, prompt: [1, 2, 3, 4], max_tokens: 3 });
  assert.equal(ids.usage.prompt_tokens, 4);
});

test('chat streaming with usage: role chunk, one delta per token, usage chunk, [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'count to ten' }], max_tokens: 10,
    ignore_eos: true, stream: true, stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  assert.equal(chunks[0].choices[0].delta.content, '');
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1);
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.completion_tokens, 10);
  const last = chunks.at(-2);
  assert.equal(last.choices[0].finish_reason, 'length');
  const text = chunks.slice(1, -1).map((c) => c.choices[0].delta.content ?? '').join('');
  assert.equal(await tokenCount(text), 10);
});

test('chat streaming without usage has no usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 3, ignore_eos: true, stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks.length, 4);  // role + 3 deltas (the last carries finish_reason)
  assert.ok(chunks.every((c) => c.choices.length === 1 && !c.usage));
});

test('completion streaming', async () => {
  const stream = await client.completions.create({
    model: MODEL, prompt: 'abc', max_tokens: 4, ignore_eos: true, stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.equal(chunks.length, 5);
  assert.equal(chunks[3].choices[0].finish_reason, 'length');
  assert.equal(chunks[4].usage.completion_tokens, 4);
});

test('a stop string ends the answer before it, with stop_reason', async () => {
  const first = await client.completions.create({ model: MODEL, prompt: 'p', max_tokens: 8, ignore_eos: true, seed: 3 });
  const words = first.choices[0].text.split(' ').filter(Boolean);
  const stop = ` ${words[4]}`;
  const r = await client.completions.create({ model: MODEL, prompt: 'p', max_tokens: 8, ignore_eos: true, seed: 3, stop: [stop] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].stop_reason, stop);
  assert.equal(r.choices[0].text, first.choices[0].text.slice(0, first.choices[0].text.indexOf(stop)));
});

test('shared chat prefix hits the prefix cache', async () => {
  const metric = async (name) => {
    const page = await (await fetch(`${sim.url}/metrics`)).text();
    const line = page.split('\n').find((l) => l.startsWith(`${name}{`));
    return Number(line.split(' ').at(-1));
  };
  const system = 'You are a careful assistant. '.repeat(40);
  const before = await metric('vllm:prefix_cache_hits_total');
  await client.chat.completions.create({ model: MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: 'one' }], max_tokens: 2 });
  await client.chat.completions.create({ model: MODEL, messages: [{ role: 'system', content: system }, { role: 'user', content: 'two' }], max_tokens: 2 });
  const hits = (await metric('vllm:prefix_cache_hits_total')) - before;
  assert.ok(hits >= 160, `prefix cache hits went up by ${hits} tokens`);
});

test('LoRA adapter loaded through the API is listed and usable, then unloaded', async () => {
  const load = await post(`${sim.base}/load_lora_adapter`, { lora_name: 'sql-lora', lora_path: '/adapters/sql' });
  assert.equal(load.status, 200, load.text);
  assert.equal(load.text, "Success: LoRA adapter 'sql-lora' added successfully.");
  const again = await post(`${sim.base}/load_lora_adapter`, { lora_name: 'sql-lora', lora_path: '/adapters/sql' });
  assert.equal(again.status, 400);
  assert.equal(again.json.error.type, 'InvalidUserInput');
  const models = await client.models.list();
  const card = models.data.find((m) => m.id === 'sql-lora');
  assert.equal(card.parent, MODEL);
  assert.equal(card.root, '/adapters/sql');
  const r = await client.chat.completions.create({ model: 'sql-lora', messages: [{ role: 'user', content: 'q' }], max_tokens: 3 });
  assert.equal(r.model, 'sql-lora');
  const unload = await post(`${sim.base}/unload_lora_adapter`, { lora_name: 'sql-lora' });
  assert.equal(unload.status, 200, unload.text);
  const gone = await post(`${sim.base}/unload_lora_adapter`, { lora_name: 'sql-lora' });
  assert.equal(gone.status, 404);
  await assert.rejects(
    client.chat.completions.create({ model: 'sql-lora', messages: [{ role: 'user', content: 'q' }], max_tokens: 3 }),
    (e) => e.status === 404);
});

test('errors: vLLM status and envelope', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.error?.type === 'NotFoundError' && /does not exist/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }),
    (e) => e.status === 400);
  await assert.rejects(
    client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 10_000_000 }),
    (e) => e.status === 400 && /max_model_len/.test(e.message));
  const long = await post(`${sim.base}/completions`, { model: MODEL, prompt: Array(140000).fill(5), max_tokens: 1 });
  assert.equal(long.status, 400);
  assert.match(long.json.error.message, /maximum context length is 131072 tokens/);
  const bad = await post(`${sim.base}/chat/completions`, '{"model": "x", "messages": [');
  assert.equal(bad.status, 400);
  assert.ok(bad.json.error.message.length > 0);
  const type = await post(`${sim.base}/chat/completions`, { model: MODEL, messages: 'hi' });
  assert.equal(type.status, 400);
  const media = await post(`${sim.base}/chat/completions`, '{}', { 'content-type': 'text/plain' });
  assert.equal(media.status, 400);
  const unknown = await fetch(`${sim.url}/v1/nothing-here`);
  assert.equal(unknown.status, 404);
});

test('health, version, tokenize/detokenize round trip', async () => {
  const health = await fetch(`${sim.url}/health`);
  assert.equal(health.status, 200);
  assert.equal(await health.text(), '');
  const version = await (await fetch(`${sim.url}/version`)).json();
  assert.match(version.version, /^\d+\.\d+\.\d+/);
  const tok = await post(`${sim.url}/tokenize`, { model: MODEL, prompt: 'Hello, world!' });
  assert.equal(tok.json.count, tok.json.tokens.length);
  const detok = await post(`${sim.url}/detokenize`, { model: MODEL, tokens: tok.json.tokens });
  assert.equal(detok.status, 200);
  assert.ok(detok.json.prompt.endsWith('Hello, world!'));
});

test('metrics carry vLLM names and types', async () => {
  const res = await fetch(`${sim.url}/metrics`);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const page = await res.text();
  for (const [name, type] of [
    ['vllm:num_requests_running', 'gauge'], ['vllm:num_requests_waiting', 'gauge'],
    ['vllm:kv_cache_usage_perc', 'gauge'], ['vllm:gpu_cache_usage_perc', 'gauge'],
    ['vllm:prefix_cache_queries', 'counter'], ['vllm:prefix_cache_hits', 'counter'],
    ['vllm:num_preemptions', 'counter'], ['vllm:prompt_tokens', 'counter'],
    ['vllm:generation_tokens', 'counter'], ['vllm:request_success', 'counter'],
    ['vllm:time_to_first_token_seconds', 'histogram'], ['vllm:inter_token_latency_seconds', 'histogram'],
    ['vllm:e2e_request_latency_seconds', 'histogram'], ['vllm:request_queue_time_seconds', 'histogram'],
    ['vllm:request_prefill_time_seconds', 'histogram'], ['vllm:request_decode_time_seconds', 'histogram'],
    ['vllm:request_prompt_tokens', 'histogram'], ['vllm:request_generation_tokens', 'histogram'],
    ['vllm:iteration_tokens_total', 'histogram'], ['vllm:lora_requests_info', 'gauge'],
  ]) {
    assert.match(page, new RegExp(`^# TYPE ${name}(_total)? ${type}$`, 'm'), name);
  }
  assert.match(page, /^vllm:lora_requests_info\{max_lora="2",running_lora_adapters="",waiting_lora_adapters=""\} /m);
  assert.match(page, /^vllm:generation_tokens_total\{engine="0",model_name="meta-llama\/Llama-3.1-8B-Instruct"\} [1-9]/m);
});

test('faults at run time: error rate, then back', async () => {
  const set = await post(`${sim.url}/admin/faults`, { error_rate: 1, error_status: 503 });
  assert.equal(set.status, 200, set.text);
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }),
    (e) => e.status === 503);
  const bad = await post(`${sim.url}/admin/faults`, { error_rate: 2 });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /error_rate/);
  // 0e999 is JSON's 0 (Boost 1.81's own parse reads it as NaN); 1e999 fits no double.
  const zero = await post(`${sim.url}/admin/faults`, '{"error_rate": 0e999}');
  assert.equal(zero.status, 200, zero.text);
  assert.equal(zero.json.error_rate, 0);
  const huge = await post(`${sim.url}/admin/faults`, '{"error_rate": 1e999}');
  assert.equal(huge.status, 400, huge.text);
  assert.match(huge.text, /fit a double/);
  await post(`${sim.url}/admin/faults`, { error_rate: 0 });
  const ok = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
});
