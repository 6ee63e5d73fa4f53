// Writes the tokenizer comparison corpus: JSON lines, deterministic for a given seed.
//
//   node gen-corpus.mjs [--seed N] [--count N] > corpus.jsonl
//
// Each line is {"id": n, "kind": "...", "text": "..."} or, for byte strings that are not valid
// UTF-8, {"id": n, "kind": "...", "hex": "..."}. "text" may hold lone surrogates (JSON escapes
// them); they reach the tokenizers as U+FFFD, which is what UTF-8 encoding makes of them.
//
// Every kind of text the gateway may see is represented: prose, CJK, Arabic and Hebrew, emoji and
// ZWJ sequences, code, long white space runs, numbers in several scripts, mixed scripts,
// combining marks (NFC), special-token text inside text, control and format characters, lone
// surrogates, invalid UTF-8, very long words, and random Unicode.
//
// Random Unicode leaves out code points assigned after Unicode 14: PCRE2 10.42 knows Unicode 14
// and Node's ICU a later version, so such a code point is a letter to one and unassigned to the
// other. Where a merge spans the boundary that moves, the ids differ (seen with CJK Extension J,
// Unicode 17, next to a Hangul syllable); that is a property of the library versions, not of
// the tokenizers (src/tokenizer/README.md). So random code points come from blocks that were
// complete by Unicode 14, or from anywhere in the code space if they are unassigned or private
// use even in Node's newer Unicode (and so in every version).

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seed = option("--seed", 20250101);
const count = option("--count", 12000);

// sfc32: small, fast, and identical on every JavaScript engine.
function sfc32(a, b, c, d) {
  return () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
const rand = sfc32(0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0);
for (let i = 0; i < 32; ++i) rand();

const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));  // inclusive
const pick = (list) => list[Math.floor(rand() * list.length)];
const chance = (p) => rand() < p;
const repeat = (n, f) => Array.from({ length: n }, f);
const cp = (c) => String.fromCodePoint(c);
const fromRanges = (ranges) => {
  const [lo, hi] = pick(ranges);
  return cp(int(lo, hi));
};

// ---- building blocks ----------------------------------------------------------------------------

const WORDS = `the of and to in a is that for it as was with be by on not he I this are or his from
at which but have an they you were her she there been one all we their has would when if so no
will can more about some what time up out them into only other new could these two may first
then do any like my now over such our man me even most made after also did many before must
through back years where much your way well down should because each just those people how too
little state good very make world still own see men work long get here between both life being
under never day same another know while last might us great old year off come since against go
came right used take three tokenizer cache router latency throughput gateway model prompt token
inference quota request response stream GPU memory batch kernel`.split(/\s+/);
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'M",
  "'LL", "'D", "n't", "N'T"];
const PUNCT = [".", ",", "!", "?", ";", ":", "...", " -", " —", "\u2014", "\u2026", ")", "\"", "'"];

function englishSentence() {
  let words = repeat(int(3, 18), () => pick(WORDS));
  words[0] = words[0][0].toUpperCase() + words[0].slice(1);
  let s = words.map((w) => {
    if (chance(0.08)) return w + pick(CONTRACTIONS);
    if (chance(0.05)) return w.toUpperCase();
    if (chance(0.04)) return "(" + w + ")";
    if (chance(0.04)) return "\"" + w + "\"";
    if (chance(0.03)) return String(int(0, 99999));
    return w;
  }).join(" ");
  return s + pick([".", ".", ".", "!", "?", "...", ":", ""]);
}

const english = () => repeat(int(1, 4), englishSentence).join(pick([" ", "  ", "\n", "\n\n"]));
const englishLong = () => repeat(int(20, 120), englishSentence).join(pick([" ", "\n"]));

const CJK_PUNCT = ["，", "。", "！", "？", "、", "；", "：", "“", "”", "（", "）", "《", "》", "　"];
const chinese = () => repeat(int(1, 80), () => chance(0.1) ? pick(CJK_PUNCT)
  : chance(0.03) ? " " + pick(WORDS) + " " : chance(0.02) ? String(int(0, 2025)) : cp(int(0x4e00, 0x9fa5))).join("");
const japanese = () => repeat(int(1, 60), () => chance(0.4) ? cp(int(0x3041, 0x3093))
  : chance(0.3) ? cp(int(0x30a1, 0x30f6)) : chance(0.1) ? pick(["ー", "。", "、", "・", "「", "」"])
    : cp(int(0x4e00, 0x9fa5))).join("");
const korean = () => repeat(int(1, 12), () => repeat(int(1, 5), () => cp(int(0xac00, 0xd7a3))).join(""))
  .join(pick([" ", " ", ", ", ". "]));
const arabicWord = () => repeat(int(2, 8), () => cp(int(0x0621, 0x064a)) + (chance(0.3) ? cp(int(0x064b, 0x0652)) : "")).join("");
const arabic = () => repeat(int(1, 15), () => chance(0.1) ? repeat(int(1, 4), () => cp(int(0x0660, 0x0669))).join("")
  : arabicWord()).join(pick([" ", " ", "، ", ". ", "\u200f "]));
const hebrew = () => repeat(int(1, 12), () => repeat(int(2, 7), () => cp(int(0x05d0, 0x05ea))).join("")).join(" ");

// ---- emoji ----------------------------------------------------------------------------------------

const EMOJI_RANGES = [[0x1f300, 0x1f5ff], [0x1f600, 0x1f64f], [0x1f680, 0x1f6c5], [0x1f910, 0x1f9ff],
  [0x2600, 0x26ff], [0x2700, 0x27bf]];
const ZWJ_SEQUENCES = ["👨‍👩‍👧‍👦", "👩‍💻", "👨🏽‍🚀", "🏳️‍🌈", "🏳️‍⚧️", "👁️‍🗨️", "🧑‍🤝‍🧑", "❤️‍🔥", "🐻‍❄️",
  "👩🏿‍🦰", "🧔‍♂️", "👨‍❤️‍💋‍👨", "🫱🏼‍🫲🏾", "🐈‍⬛", "😶‍🌫️"];
const emojiOne = () => {
  const r = rand();
  if (r < 0.3) return fromRanges(EMOJI_RANGES) + (chance(0.3) ? "\ufe0f" : "");
  if (r < 0.5) return pick(["👍", "👋", "🤚", "✋", "👌", "🙏", "💪"]) + cp(int(0x1f3fb, 0x1f3ff));
  if (r < 0.75) return pick(ZWJ_SEQUENCES);
  if (r < 0.9) return cp(int(0x1f1e6, 0x1f1ff)) + cp(int(0x1f1e6, 0x1f1ff));  // flags
  return pick(["#", "*", "0", "1", "7", "9"]) + "\ufe0f\u20e3";  // keycaps
};
const emoji = () => repeat(int(1, 20), () => chance(0.3) ? " " + pick(WORDS) + " " : emojiOne()).join(chance(0.5) ? "" : " ");

// ---- code -----------------------------------------------------------------------------------------

const ident = () => pick(WORDS).replace(/[^a-zA-Z]/g, "") + (chance(0.3) ? "_" + pick(WORDS) : "") +
  (chance(0.2) ? String(int(0, 9)) : "");
const camel = () => ident().replace(/_(\w)/g, (_, c) => c.toUpperCase());
const indent = (depth, style) => style === "\t" ? "\t".repeat(depth) : " ".repeat(depth * style);
function codeSnippet() {
  const style = pick([2, 4, "\t"]);
  const nl = chance(0.15) ? "\r\n" : "\n";
  const lines = [];
  const lang = pick(["cpp", "py", "js", "rust", "sh", "json", "sql", "html"]);
  const n = int(1, 12);
  for (let i = 0; i < n; ++i) {
    const d = int(0, 3);
    switch (lang) {
      case "cpp": lines.push(indent(d, style) + pick([
        `int ${ident()} = ${int(0, 1 << 20)};`, `for (size_t i = 0; i < ${ident()}.size(); ++i) {`,
        `return ${camel()}(${ident()}, &${ident()});`, `// ${englishSentence()}`, "}",
        `std::vector<std::string> ${ident()} = {"${pick(WORDS)}", "${pick(WORDS)}"};`,
        `if (${ident()} != nullptr && ${ident()}->${camel()}() >= 0x${int(0, 65535).toString(16)}) {`,
        `#include "${ident()}/${ident()}.h"`, `template <typename T> T ${camel()}(const T& x);`])); break;
      case "py": lines.push(indent(d, style) + pick([
        `def ${ident()}(${ident()}, ${ident()}=None):`, `    return [${ident()} for ${ident()} in range(${int(0, 100)})]`,
        `# ${englishSentence()}`, `${ident()} = {"${ident()}": ${int(0, 9)}, '${ident()}': ${rand().toFixed(4)}}`,
        `print(f"{${ident()}!r} => {${ident()}:>10}")`, `class ${camel()}(object):`, `"""${englishSentence()}"""`,
        `if __name__ == "__main__":`, `raise ValueError('${englishSentence()}')`])); break;
      case "js": lines.push(indent(d, style) + pick([
        `const ${camel()} = async (${ident()}) => await fetch(\`/api/\${${ident()}}\`);`,
        `export function ${camel()}({ ${ident()}, ${ident()} = ${int(0, 9)} }) {`, `});`,
        `let ${ident()} = ${ident()}?.${ident()} ?? ${int(0, 99)};`, `/* ${englishSentence()} */`,
        `${ident()}.map((x) => x * ${int(2, 9)}).filter(Boolean);`])); break;
      case "rust": lines.push(indent(d, style) + pick([
        `fn ${ident()}(&self, ${ident()}: &str) -> Result<${camel()}, Error> {`, `let mut ${ident()}: Vec<u32> = Vec::new();`,
        `impl<'a> ${camel()}<'a> for ${camel()} {`, `match ${ident()} { Some(x) => x, None => return Ok(()) }`,
        `/// ${englishSentence()}`])); break;
      case "sh": lines.push(pick([`${ident()}=$(${ident()} --${ident()} "$${ident()}" 2>&1 | tail -n ${int(1, 50)})`,
        `for f in *.${pick(["cc", "h", "json"])}; do echo "$f"; done`, `set -euo pipefail`,
        `[[ -f ${ident()}.txt ]] || exit ${int(0, 3)}`])); break;
      case "json": lines.push(indent(d, style) + pick([`"${ident()}": ${int(-1000, 1000)},`,
        `"${ident()}": "${englishSentence().replace(/"/g, "\\\"")}",`, `"${ident()}": [${repeat(int(0, 5), () => int(0, 9)).join(", ")}],`,
        `"${ident()}": {`, `},`, `"${ident()}": null, "${ident()}": true`])); break;
      case "sql": lines.push(pick([`SELECT ${ident()}, COUNT(*) FROM ${ident()} WHERE ${ident()} > ${int(0, 999)} GROUP BY 1;`,
        `INSERT INTO ${ident()} (${ident()}) VALUES ('${pick(WORDS)}');`, `-- ${englishSentence()}`])); break;
      default: lines.push(indent(d, style) + pick([`<div class="${ident()}" id='${ident()}'>`, `</div>`,
        `<a href="https://example.com/${ident()}?q=${int(0, 99)}&amp;x=1">${pick(WORDS)}</a>`,
        `<!-- ${englishSentence()} -->`, `<br/>`]));
    }
    if (chance(0.1)) lines[lines.length - 1] += "   ";  // trailing white space
  }
  return lines.join(nl) + (chance(0.5) ? nl : "");
}

// ---- white space and numbers ----------------------------------------------------------------------

const SPACES = [" ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2003", "\u2009", "\u202f", "\v", "\f",
  "\u2028", "\u2029", "\u205f", "\u1680"];
function whitespace() {
  const parts = [];
  for (let i = int(1, 6); i > 0; --i) {
    const unit = chance(0.6) ? pick([" ", "\n", "\t"]) : pick(SPACES);
    const n = chance(0.2) ? int(50, 400) : int(1, 12);
    parts.push(chance(0.7) ? unit.repeat(n) : repeat(n, () => pick(SPACES)).join(""));
    if (chance(0.7)) parts.push(chance(0.5) ? pick(WORDS) : pick(PUNCT));
  }
  return parts.join("");
}

const DIGIT_ZEROS = [0x30, 0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0xff10, 0x1d7ce];
const digits = (n, zero = 0x30) => repeat(n, () => cp(zero + int(0, 9))).join("");
function numbers() {
  return repeat(int(1, 6), () => {
    const r = rand();
    if (r < 0.25) return digits(int(1, 50));
    if (r < 0.4) return (chance(0.3) ? "-" : "") + digits(int(1, 7)) + "." + digits(int(1, 9));
    if (r < 0.5) return Number(int(0, 99999999)).toLocaleString("en-US") + (chance(0.5) ? ".5" : "");
    if (r < 0.6) return `${int(1900, 2100)}-${digits(2)}-${digits(2)}T${digits(2)}:${digits(2)}:${digits(2)}Z`;
    if (r < 0.7) return `${int(0, 255)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}:${int(1, 65535)}`;
    if (r < 0.75) return `0x${int(0, 0x7fffffff).toString(16).toUpperCase()}`;
    if (r < 0.8) return `${rand().toExponential(int(1, 8))}`;
    if (r < 0.92) return digits(int(1, 12), pick(DIGIT_ZEROS));
    return pick(["½", "¾", "²", "³", "¹⁰", "Ⅻ", "ⅳ", "①", "⑳", "𝟙𝟚", "₁₂"]);
  }).join(pick([" ", "", ", ", "\n", " + ", "x"]));
}

// ---- scripts and Unicode --------------------------------------------------------------------------

const SCRIPT_WORDS = [
  () => pick(WORDS),
  () => repeat(int(2, 9), () => cp(int(0x0430, 0x044f))).join(""),                   // Cyrillic
  () => repeat(int(2, 9), () => cp(int(0x03b1, 0x03c9))).join(""),                   // Greek
  () => repeat(int(1, 4), () => cp(int(0x4e00, 0x9fa5))).join(""),                   // Han
  arabicWord,
  () => repeat(int(2, 6), () => cp(int(0x0905, 0x0939)) + (chance(0.5) ? cp(int(0x093e, 0x094c)) : "")).join(""),
  () => repeat(int(2, 8), () => cp(int(0x0e01, 0x0e2e)) + (chance(0.3) ? cp(int(0x0e31, 0x0e3a)) : "")).join(""),
  () => repeat(int(1, 4), () => cp(int(0xac00, 0xd7a3))).join(""),
  () => repeat(int(2, 6), () => cp(int(0x10d0, 0x10fa))).join(""),                  // Georgian
  () => repeat(int(2, 6), () => cp(int(0x0531, 0x0556))).join(""),                  // Armenian
  emojiOne,
];
const mixedScripts = () => repeat(int(2, 25), () => pick(SCRIPT_WORDS)()).join(pick([" ", "", " ", "-", "\n"]));

const COMBINING = () => cp(int(0x0300, 0x036f));
function combining() {
  return repeat(int(1, 12), () => {
    const r = rand();
    if (r < 0.3) return pick("aeiouAEIOUnNcCyYsSzZ".split("")) + repeat(int(1, 3), COMBINING).join("");
    if (r < 0.45) return cp(int(0x1100, 0x1112)) + cp(int(0x1161, 0x1175)) + (chance(0.5) ? cp(int(0x11a8, 0x11c2)) : "");
    if (r < 0.55) return pick(["\u0915\u093c", "\u0958", "\u0921\u093c", "\u09a1\u09bc", "\u0b21\u0b3c"]);  // exclusions
    if (r < 0.65) return cp(int(0xf900, 0xfa0d));  // CJK compatibility ideographs: NFC maps them
    if (r < 0.75) return pick(["\u212b", "\u2126", "\u212a", "\u1e9b\u0323", "\u0344", "\u0340", "\u1f71"]);
    if (r < 0.85) return pick(["Vi\u1ec7t Nam", "Vie\u0323\u0302t", "Tie\u0302\u0301ng", "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m"]);
    return cp(int(0x00c0, 0x017f)) + (chance(0.5) ? COMBINING() : "");
  }).join(pick(["", " ", " "]));
}

const SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
  "<|end_header_id|>", "<|reserved_special_token_0|>", "<|reserved_special_token_247|>",
  "<|python_tag|>", "<|finetune_right_pad_id|>", "<|eom_id|>",
  "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|image_pad|>",
  "<tool_call>", "</tool_call>", "<think>", "</think>", "<|fim_prefix|>", "<|file_sep|>"];
const SPECIAL_LOOKALIKES = ["<|eot_id", "|eot_id|>", "<|EOT_ID|>", "<| eot_id |>", "<<|eot_id|>|>",
  "<|im_start", "<|im_start||>", "<think >", "< think>", "<|reserved_special_token_999|>", "<||>", "<|"];
function specialText() {
  return repeat(int(1, 8), () => {
    const r = rand();
    if (r < 0.45) return pick(SPECIALS);
    if (r < 0.6) return pick(SPECIAL_LOOKALIKES);
    if (r < 0.75) return pick(["user", "assistant", "system", "\n", "\n\n", " "]);
    return english();
  }).join(chance(0.5) ? "" : pick([" ", "\n", "  "]));
}

const CONTROLS = () => chance(0.5) ? cp(int(0x00, 0x1f)) : pick(["\u007f", "\u0085", "\u0080", "\u009f",
  "\ufeff", "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\u202e", "\u202a", "\u2066", "\u2069", "\ufe0f",
  "\ufe00", "\u180e", "\ufffd", "\ufffc", "\uffff", "\ufffe", "\u0000"]);
const controls = () => repeat(int(1, 20), () => chance(0.5) ? CONTROLS() : pick(WORDS) + pick(["", " "])).join("");

function apostrophes() {
  return repeat(int(1, 10), () => pick([pick(WORDS) + pick(CONTRACTIONS), pick(CONTRACTIONS),
    "''", "'''s", "rock'n'roll", "O'Neil's", "it\u2019s", "'" + pick(WORDS), " 'll", "\n's", "1's", "é's",
    "'" + cp(int(0x0410, 0x042f)), "'s'", "`s", "'S'T"])).join(pick([" ", "", "  "]));
}

function urls() {
  return repeat(int(1, 4), () => pick([
    `https://${ident()}.example.com/${ident()}/${ident()}?${ident()}=${int(0, 999)}#${ident()}`,
    `mailto:${ident()}@${ident()}.org`, `**${pick(WORDS)}** _${pick(WORDS)}_ \`${ident()}()\``,
    `# ${englishSentence()}`, `- [ ] ${englishSentence()}`, `| ${pick(WORDS)} | ${int(0, 99)} |`,
    `$\\frac{${ident()}}{${int(1, 9)}} + \\sum_{i=0}^{n} x_i$`, `![${pick(WORDS)}](./${ident()}.png)`,
  ])).join(pick(["\n", " ", "\n\n"]));
}

// Blocks in common use, all complete by Unicode 14 (their gaps are unassigned in every version).
const RANDOM_BLOCKS = [
  [0x0020, 0x007e], [0x00a0, 0x024f], [0x0250, 0x02ff], [0x0370, 0x03ff], [0x0400, 0x052f],
  [0x0590, 0x05ff], [0x0600, 0x06ff], [0x0900, 0x097f], [0x0e00, 0x0e7f], [0x1100, 0x11ff],
  [0x1e00, 0x1fff], [0x2000, 0x206f], [0x20a0, 0x20bf], [0x2100, 0x218b], [0x2190, 0x23ff],
  [0x2500, 0x27bf], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xe0ff],
  [0xfb00, 0xfb4f], [0xfe30, 0xfe4f], [0xff00, 0xffef], [0x10000, 0x1007f], [0x1d400, 0x1d7ff],
  [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f], [0x20000, 0x2a6df],
];
// Any code point (surrogates aside: lone ones have their own kind) that is unassigned or private
// use in this Node's Unicode, hence in every Unicode version.
const STABLE_UNASSIGNED = /^[\p{Cn}\p{Co}]$/u;
const anyUnassigned = () => {
  for (;;) {
    const c = int(0, 0x10ffff - 0x800);
    const s = cp(c < 0xd800 ? c : c + 0x800);
    if (STABLE_UNASSIGNED.test(s)) return s;
  }
};
const randomUnicode = () => repeat(int(1, 40), () => chance(0.15) ? pick([" ", "\n", "'", "\t"])
  : chance(0.3) ? anyUnassigned() : fromRanges(RANDOM_BLOCKS)).join("");

function loneSurrogates() {
  const lone = () => chance(0.5) ? cp(int(0xd800, 0xdbff)) : cp(int(0xdc00, 0xdfff));
  return repeat(int(1, 8), () => pick([lone, lone, () => pick(WORDS), () => " ", emojiOne,
    () => "\udc00\ud800", () => pick(WORDS) + lone() + pick(WORDS)])()).join("");
}

function longWord() {
  const r = rand();
  const n = int(500, 20000);
  if (r < 0.2) return pick(["a", "x", "é", "你", "=", "-", "0", "ab", "ी"]).repeat(n / 2);
  if (r < 0.4) return repeat(n, () => cp(int(0x61, 0x7a))).join("");
  if (r < 0.55) return repeat(n / 2, () => cp(int(0x4e00, 0x9fa5))).join("");
  if (r < 0.7) return digits(n);
  if (r < 0.85) return pick([" ", "\n", "\t", " \n"]).repeat(n) + pick(["", "x", "\n"]);
  return repeat(n / 4, () => pick(["!", "@", "#", "%", "^", "&", "*", "(", ")", "_", "+", "~", "|", "."])).join("");
}

// Byte strings: valid text with ill-formed sequences spliced in, or random bytes.
const BAD_SEQUENCES = [[0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf], [0xf0, 0x80, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0xf5], [0xff], [0xfe],
  [0xe4, 0xb8], [0xe4], [0xf0, 0x9f, 0x98], [0xc3], [0xf0, 0x9f], [0xef, 0xbb, 0xbf], [0xc2, 0x85]];
function invalidUtf8() {
  let bytes;
  if (chance(0.3)) {
    bytes = repeat(int(1, 64), () => int(0, 255));
  } else {
    bytes = [];
    for (let i = int(1, 8); i > 0; --i) {
      bytes.push(...Buffer.from(chance(0.5) ? pick(WORDS) + " " : pick(SCRIPT_WORDS)()));
      if (chance(0.7)) bytes.push(...pick(BAD_SEQUENCES));
    }
  }
  return { hex: Buffer.from(bytes).toString("hex") };
}

// ---- assembly -------------------------------------------------------------------------------------

const KINDS = {
  english: [english, 14], english_long: [englishLong, 2], chinese: [chinese, 5], japanese: [japanese, 3],
  korean: [korean, 3], arabic: [arabic, 4], hebrew: [hebrew, 2], emoji: [emoji, 6], code: [codeSnippet, 10],
  whitespace: [whitespace, 6], numbers: [numbers, 6], mixed_scripts: [mixedScripts, 7],
  combining: [combining, 6], special_text: [specialText, 6], controls: [controls, 3],
  apostrophes: [apostrophes, 3], urls: [urls, 3], random_unicode: [randomUnicode, 6],
  lone_surrogates: [loneSurrogates, 3], invalid_utf8: [invalidUtf8, 3], long_word: [longWord, 1],
};
const weighted = Object.entries(KINDS).flatMap(([kind, [, w]]) => Array(w).fill(kind));

const out = [];
const emit = (kind, value) => {
  const entry = typeof value === "string" ? { text: value } : value;
  out.push(JSON.stringify({ id: out.length, kind, ...entry }));
};
// Fixed entries first: the empty string, every ASCII character alone, every special token alone.
emit("fixed", "");
for (let c = 0; c < 128; ++c) emit("fixed", String.fromCharCode(c));
for (const s of [...SPECIALS, ...SPECIAL_LOOKALIKES]) emit("fixed", s);
while (out.length < count) {
  const kind = pick(weighted);
  emit(kind, KINDS[kind][0]());
}
process.stdout.write(out.join("\n") + "\n");
