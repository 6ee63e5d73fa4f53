// Encode throughput of the JavaScript reference (@lenml/tokenizers) on one text, for
// tests/tokenizer/bench.sh: the same text and tokenizer files that tokenizer_bench measures.
//
//   node bench-oracle.mjs --modules DIR --tokenizer DIR --text FILE [--seconds N]
//
// Prints one JSON object: {"bytes_per_second", "tokens", "bytes"}. Encodes the whole text per
// call, after a warm-up (the reference keeps an LRU cache of BPE results; it is warm, as it
// would be in a long-running server).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  if (i >= 0 && i + 1 < args.length) return args[i + 1];
  if (fallback === undefined) throw new Error(`missing ${name}`);
  return fallback;
};
const require = createRequire(path.join(path.resolve(option("--modules")), "noop.js"));
const { TokenizerLoader } = require("@lenml/tokenizers");
const dir = option("--tokenizer");
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: readJson("tokenizer.json"),
  tokenizerConfig: readJson("tokenizer_config.json"),
});

const text = fs.readFileSync(option("--text"), "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const seconds = Number(option("--seconds", "3"));
let tokens = 0;
for (let i = 0; i < 3; ++i) tokens = tokenizer.encode(text).length;
let iterations = 0;
const start = process.hrtime.bigint();
let elapsed = 0;
while (elapsed < seconds) {
  tokens = tokenizer.encode(text).length;
  ++iterations;
  elapsed = Number(process.hrtime.bigint() - start) / 1e9;
}
console.log(JSON.stringify({ bytes_per_second: (bytes * iterations) / elapsed, tokens, bytes }));
