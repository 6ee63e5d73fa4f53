// Timing fidelity of brix sim against the calibration it was built from: for single requests on
// an idle engine, TTFT over HTTP vs the measured whole-model prefill time, and inter-token
// latency vs the measured batch-1 decode step. Prints one Markdown table row per point.
//   node tests/sim/fidelity.mjs URL PROFILE_JSON
// (scripts/bench-sim starts the sims and writes the table header.) The sim must run with
// --no-enable-prefix-caching so that repeated prompts are prefilled in full.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [url, profilePath] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(profilePath, 'utf8'));
const name = profilePath.split('/').slice(-2).join('/').replace('.json', '');

let seed = 12345;
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
const prompt = (n) => Array.from({ length: n }, () => 1000 + (rand() % 50000));

// Streams one completion; returns the arrival times (ms) of the chunks that carry text. Uses
// node:http with a keep-alive agent: fetch (undici) adds a few ms of its own before the first
// chunk, which would be charged to the sim.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function stream(ids, maxTokens) {
  const body = JSON.stringify({ prompt: ids, max_tokens: maxTokens, ignore_eos: true, stream: true });
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.request(`${url}/v1/completions`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`status ${res.statusCode}`)); res.resume(); return; }
      const times = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const now = performance.now() - start;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const event = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (event.startsWith('data: {') && event.includes('"text"')) times.push(now);
        }
      });
      res.on('end', () => resolve(times));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const row = (what, predicted, measured) => {
  const limit = predicted * 0.1 + 2;
  const ok = Math.abs(measured - predicted) <= limit;
  const err = ((measured - predicted) / predicted) * 100;
  console.log(`| ${name} | ${what} | ${predicted.toFixed(2)} | ${measured.toFixed(2)} | ${err >= 0 ? '+' : ''}${err.toFixed(1)}% | ${ok ? 'yes' : '**no**'} |`);
  return ok;
};

let failures = 0;
for (let i = 0; i < 5; i++) await stream(prompt(32), 2);  // warm up the connection and the sim
for (const p of profile.prefill) {
  const ttfts = [];
  for (let r = 0; r < 7; r++) ttfts.push((await stream(prompt(p.tokens), 1))[0]);
  if (!row(`TTFT, prompt ${p.tokens}`, p.ms, median(ttfts))) failures++;
}
for (const d of profile.decode.filter((x) => x.batch === 1)) {
  const times = await stream(prompt(d.context - 10), 21);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  if (!row(`ITL, context ${d.context}`, d.ms, median(gaps))) failures++;
}
process.exitCode = failures > 0 ? 1 : 0;
