// The reference tokenizations: runs @lenml/tokenizers (a port of transformers.js) over the corpus
// and writes what it produces, one JSON line per corpus entry, for tokenizer_oracle_compare.
//
//   node oracle.mjs --modules DIR --tokenizer DIR --corpus FILE > expected.jsonl
//
// --modules is the node_modules folder that `npm ci` filled from package-lock.json; --tokenizer
// holds the tokenizer.json and tokenizer_config.json that Brix loads too.
//
// Output line: {"id", "kind", "input": hex of the UTF-8 bytes Brix must encode, "ids": encode()
// with special tokens added as the tokenizer's post-processor does, "decoded", "decoded_skip"
// (skip_special_tokens), "decoded_clean" (clean_up_tokenization_spaces) for those ids, and, every
// tenth line, "random_ids" with their "random_decoded"}.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`missing ${name}`);
  return args[i + 1];
};
const require = createRequire(path.join(path.resolve(option("--modules")), "noop.js"));
const { TokenizerLoader } = require("@lenml/tokenizers");

const dir = option("--tokenizer");
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: readJson("tokenizer.json"),
  tokenizerConfig: readJson("tokenizer_config.json"),
});
const vocabSize = Math.max(tokenizer.model.vocab.length, ...tokenizer.added_tokens.map((t) => t.id + 1));

// Input bytes that are not UTF-8 reach transformers.js as a string only through a decoder; this
// one replaces ill-formed sequences with U+FFFD and, like Brix, keeps a leading BOM.
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
// transformers.js refuses to decode an empty list.
const decode = (ids, options) => (ids.length === 0 ? "" : tokenizer.decode(ids, options));

// A small deterministic generator for the random id lists (xorshift32 seeded by the line id).
function randomIds(id) {
  let x = (id * 2654435761) >>> 0 || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x;
  };
  return Array.from({ length: 1 + (next() % 24) }, () => next() % vocabSize);
}

const lines = readline.createInterface({ input: fs.createReadStream(option("--corpus")) });
const out = fs.createWriteStream(null, { fd: 1 });
for await (const line of lines) {
  if (line === "") continue;
  const entry = JSON.parse(line);
  const text = entry.text ?? decoder.decode(Buffer.from(entry.hex, "hex"));
  const input = entry.hex ?? Buffer.from(text, "utf8").toString("hex");
  const ids = tokenizer.encode(text);
  const result = {
    id: entry.id,
    kind: entry.kind,
    input,
    ids,
    decoded: decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    decoded_skip: decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
    decoded_clean: decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: true }),
  };
  if (entry.id % 10 === 0) {
    result.random_ids = randomIds(entry.id);
    result.random_decoded = decode(result.random_ids, { clean_up_tokenization_spaces: false });
  }
  if (!out.write(JSON.stringify(result) + "\n")) await new Promise((r) => out.once("drain", r));
}
out.end();
