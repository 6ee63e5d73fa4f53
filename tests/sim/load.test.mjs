// brix sim under load and with many of them: bounded in count and time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startSim } from './harness.mjs';

const MODEL = 'sim-model';

async function metric(url, name) {
  const page = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of page.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

test('1,000 concurrent streaming requests all complete', { timeout: 120000 }, async () => {
  const sim = await startSim(['--model', MODEL, '--profile', 'h100/llama-3.1-8b']);
  try {
    const client = new OpenAI({ baseURL: sim.base, apiKey: 'x', maxRetries: 0, timeout: 60000 });
    const one = async (i) => {
      const stream = await client.chat.completions.create({
        model: MODEL, messages: [{ role: 'user', content: `request number ${i}` }],
        max_tokens: 20, ignore_eos: true, stream: true, stream_options: { include_usage: true },
      });
      let deltas = 0;
      let usage = null;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        else if (chunk.choices[0].delta.content) deltas++;
      }
      return { deltas, usage };
    };
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => one(i)));
    for (const r of results) {
      assert.equal(r.usage.completion_tokens, 20);
      assert.ok(r.deltas >= 1 && r.deltas <= 20);
    }
    assert.equal(await metric(sim.url, 'vllm:request_success_total'), 1000);
    assert.equal(await metric(sim.url, 'vllm:generation_tokens_total'), 20000);
    assert.equal(await metric(sim.url, 'vllm:num_requests_running'), 0);
  } finally {
    await sim.stop();
  }
});

test('a client that goes away aborts its request in the engine', { timeout: 60000 }, async () => {
  const sim = await startSim(['--model', MODEL, '--profile', 'h100/llama-3.1-8b']);
  try {
    const client = new OpenAI({ baseURL: sim.base, apiKey: 'x', maxRetries: 0 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create({
      model: MODEL, messages: [{ role: 'user', content: 'long answer' }], max_tokens: 5000,
      ignore_eos: true, stream: true,
    }, { signal: controller.signal });
    let chunks = 0;
    // The client's iterator may end quietly or throw an abort error; either is fine.
    try {
      for await (const _ of stream) { if (++chunks === 3) controller.abort(); }
    } catch (e) {
      assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', String(e));
    }
    assert.equal(chunks, 3);
    // The engine drops it within a step or two; poll for at most 10 s.
    let running = 1;
    for (let i = 0; i < 100 && running > 0; i++) {
      running = await metric(sim.url, 'vllm:num_requests_running');
      if (running > 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(running, 0);
    assert.ok(await metric(sim.url, 'vllm:generation_tokens_total') < 5000);
  } finally {
    await sim.stop();
  }
});

test('eight brix sim processes run side by side', { timeout: 120000 }, async () => {
  const sims = [];
  try {
    for (let i = 0; i < 8; i++) sims.push(await startSim(['--model', `m${i}`, '--profile', 'h100/llama-3.2-1b']));
    const answers = await Promise.all(sims.map((s, i) =>
      new OpenAI({ baseURL: s.base, apiKey: 'x', maxRetries: 0 }).completions.create({
        model: `m${i}`, prompt: 'hello', max_tokens: 4, ignore_eos: true })));
    for (const a of answers) assert.equal(a.usage.completion_tokens, 4);
  } finally {
    await Promise.all(sims.map((s) => s.stop()));
  }
});

test('crash-after: the process dies on the request after N, as a crashed engine would', { timeout: 60000 }, async () => {
  const sim = await startSim(['--model', MODEL, '--profile', 'h100/llama-3.2-1b', '--crash-after', '2']);
  const client = new OpenAI({ baseURL: sim.base, apiKey: 'x', maxRetries: 0 });
  const ask = () => client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 2 });
  await ask();
  await ask();
  await assert.rejects(ask(), (e) => e instanceof OpenAI.APIConnectionError);
  const [code] = await new Promise((resolve) => {
    if (sim.proc.exitCode !== null) resolve([sim.proc.exitCode]);
    else sim.proc.on('exit', (c) => resolve([c]));
  });
  assert.equal(code, 70);
});

test('hang: requests wait while /health answers; un-hanging releases them', { timeout: 60000 }, async () => {
  const sim = await startSim(['--model', MODEL, '--profile', 'h100/llama-3.2-1b', '--hang']);
  try {
    const client = new OpenAI({ baseURL: sim.base, apiKey: 'x', maxRetries: 0 });
    const pending = client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 2 });
    let settled = false;
    pending.then(() => { settled = true; }, () => { settled = true; });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false);
    assert.equal((await fetch(`${sim.url}/health`)).status, 200);
    assert.equal(await metric(sim.url, 'vllm:num_requests_waiting'), 1);
    await fetch(`${sim.url}/admin/faults`, { method: 'POST', body: '{"hang": false}' });
    const r = await pending;
    assert.equal(r.usage.completion_tokens, 2);
  } finally {
    await sim.stop();
  }
});
