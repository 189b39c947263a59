import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../../io/errors.ts";
import {
  BertTokenizer,
  bundledVocabulary,
  isPunctuation,
  loadVocabulary,
  normalizeText,
  parseVocabularyText,
  splitWords,
  tokenize,
  tokensFromBertTokenizerJson,
  vocabularyText,
} from "../../../stages/text/tokenizer.ts";
import { kitTest, referencePath } from "../../kit.ts";

const CASES = referencePath("tokenizer_cases.json");

interface TokenizerCase {
  name: string;
  text: string;
  ids: number[];
  truncated: boolean;
  n_pieces: number;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

function ids(text: string, length = 150): number[] {
  return Array.from(tokenize(text, { length }).ids);
}

/** Returns the ids of `text` without [CLS], [SEP] and padding. */
function pieces(text: string): number[] {
  return new BertTokenizer().pieces(text);
}

function tokenIds(...tokens: string[]): number[] {
  const vocabulary = bundledVocabulary();
  return tokens.map((token) => {
    const id = vocabulary.ids.get(token);
    assert.ok(id !== undefined, `token ${token} in the vocabulary`);
    return id;
  });
}

kitTest("tokenizer matches every reference case", [CASES], () => {
  const { cases, max_length } = JSON.parse(Deno.readTextFileSync(CASES)) as {
    cases: TokenizerCase[];
    max_length: number;
  };
  assert.equal(cases.length, 46);
  for (const c of cases) {
    const encoding = tokenize(c.text, { length: max_length });
    assert.deepEqual(Array.from(encoding.ids), c.ids, `case ${c.name}`);
    assert.equal(encoding.truncated, c.truncated, `case ${c.name}: truncated`);
    assert.equal(encoding.pieceCount, c.n_pieces, `case ${c.name}: piece count`);
  }
});

Deno.test("bundled vocabulary is bert-base-uncased vocab.txt", async () => {
  const vocabulary = bundledVocabulary();
  assert.equal(vocabulary.tokens.length, 30522);
  const text = new TextEncoder().encode(vocabularyText(vocabulary));
  assert.equal(text.length, 231508);
  assert.equal(await sha256(text), "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3");
  assert.deepEqual(tokenIds("[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s"), [
    0,
    1,
    100,
    101,
    102,
    103,
    1996,
    2015,
  ]);
});

Deno.test("tokensFromBertTokenizerJson undoes the package's encoding", () => {
  assert.deepEqual(
    tokensFromBertTokenizerJson(["[PAD]", "\u2581", "[UNK]", "\u2581the", "s", "\u2581[x", "]"], "v.json"),
    ["[PAD]", "[unused0]", "[UNK]", "the", "##s", "[x", "##]"],
  );
  assert.throws(() => tokensFromBertTokenizerJson({ a: 1 }, "v.json"), /v\.json: expected a JSON array/);
  assert.throws(() => tokensFromBertTokenizerJson(["a", 2], "v.json"), CheffError);
});

Deno.test("encode frames pieces with [CLS] and [SEP] and pads with [PAD]", () => {
  const encoding = tokenize("The lungs are clear.");
  assert.equal(encoding.ids.length, 150);
  assert.deepEqual(Array.from(encoding.ids.subarray(0, 7)), [
    101,
    ...tokenIds("the", "lungs", "are", "clear", "."),
    102,
  ]);
  assert.ok(encoding.ids.subarray(7).every((id) => id === 0));
  assert.equal(encoding.truncated, false);
  assert.equal(encoding.pieceCount, 5);
});

Deno.test("encode truncates to the requested length", () => {
  const encoding = tokenize("one two three four five", { length: 5 });
  assert.deepEqual(Array.from(encoding.ids), [101, ...tokenIds("one", "two", "three"), 102]);
  assert.equal(encoding.truncated, true);
  assert.equal(encoding.pieceCount, 5);
  const exact = tokenize("one two three", { length: 5 });
  assert.equal(exact.truncated, false);
  assert.deepEqual(ids("", 2), [101, 102]);
  assert.equal(tokenize("word", { length: 2 }).truncated, true);
});

Deno.test("encode rejects a length without room for [CLS] and [SEP]", () => {
  for (const length of [1, 0, -3, 2.5]) {
    assert.throws(
      () => tokenize("x", { length }),
      (e: Error) => e instanceof CheffError && /token length/.test(e.message),
    );
  }
});

Deno.test("empty and whitespace-only text give [CLS] [SEP]", () => {
  for (const text of ["", "   ", "\t\r\n\u3000\u00a0"]) {
    const encoding = tokenize(text, { length: 6 });
    assert.deepEqual(Array.from(encoding.ids), [101, 102, 0, 0, 0, 0], JSON.stringify(text));
    assert.equal(encoding.pieceCount, 0);
  }
});

Deno.test("special tokens match only verbatim in the raw text", () => {
  assert.deepEqual(pieces("x[PAD]y"), [...tokenIds("x"), 0, ...tokenIds("y")]);
  assert.deepEqual(pieces("[MASK][SEP]"), [103, 102]);
  assert.deepEqual(pieces("[sep]"), tokenIds("[", "sep", "]"));
  assert.deepEqual(pieces("[ CLS ]"), tokenIds("[", "cl", "##s", "]"));
});

Deno.test("normalizeText deletes controls and maps whitespace to spaces", () => {
  assert.equal(normalizeText("heart\vnormal"), "heartnormal");
  assert.equal(normalizeText("a\u200bb\u00adc\ufeffd\u200fe"), "abcde");
  assert.equal(normalizeText("a\u0000b\ufffdc\u0085d"), "abcd");
  assert.equal(normalizeText("a\tb\nc\rd\u00a0e\u2003f\u3000g"), "a b c d e f g");
  assert.equal(normalizeText("\ue000x"), "x", "private use is deleted");
});

Deno.test("normalizeText strips accents then lowercases per character", () => {
  assert.equal(normalizeText("Épanchement Ångström naïve"), "epanchement angstrom naive");
  assert.equal(normalizeText("e\u0301"), "e");
  assert.equal(normalizeText("ΟΔΟΣ"), "οδοσ");
  assert.equal(normalizeText("İstanbul"), "istanbul");
  assert.equal(normalizeText("ﬁbrosis"), "ﬁbrosis", "ligatures stay (NFD, not NFKD)");
  assert.equal(normalizeText("❤️"), "❤", "the variation selector is a nonspacing mark");
});

Deno.test("normalizeText spaces CJK ideographs but not kana or hangul", () => {
  assert.equal(normalizeText("胸部X"), " 胸  部 x");
  assert.equal(normalizeText("レントゲン"), "レントケン", "kana stay joined; the voicing mark is stripped");
  assert.equal(normalizeText("\u{20000}a"), " \u{20000} a");
});

Deno.test("splitWords isolates BERT punctuation", () => {
  assert.deepEqual(splitWords("t7-t8, 3.5 cm"), ["t7", "-", "t8", ",", "3", ".", "5", "cm"]);
  assert.deepEqual(splitWords("$5 a+b<c=d>e^f`g|h~i"), [
    "$",
    "5",
    "a",
    "+",
    "b",
    "<",
    "c",
    "=",
    "d",
    ">",
    "e",
    "^",
    "f",
    "`",
    "g",
    "|",
    "h",
    "~",
    "i",
  ]);
  assert.deepEqual(
    splitWords("45° ±2 5×3"),
    ["45°", "±2", "5×3"],
    "symbols (category S) are not punctuation",
  );
  assert.deepEqual(splitWords("«a» “b”"), ["«", "a", "»", "“", "b", "”"]);
  assert.ok(isPunctuation("¿"));
  assert.ok(isPunctuation("_"));
  assert.ok(!isPunctuation("a"));
  assert.ok(!isPunctuation("°"));
});

Deno.test("wordPieces is greedy longest match first", () => {
  const tokenizer = new BertTokenizer();
  assert.deepEqual(tokenizer.wordPieces("cardiomegaly"), tokenIds("card", "##iom", "##ega", "##ly"));
  assert.deepEqual(tokenizer.wordPieces("lungs"), tokenIds("lungs"));
});

Deno.test("wordPieces gives one [UNK] for long or partly unknown words", () => {
  const tokenizer = new BertTokenizer();
  const word100 = "a".repeat(100);
  assert.ok(tokenizer.wordPieces(word100).length > 1);
  assert.deepEqual(tokenizer.wordPieces("a".repeat(101)), [100]);
  assert.deepEqual(tokenizer.wordPieces("abc☃"), [100]);
  assert.deepEqual(pieces("abc☃ lungs"), [100, ...tokenIds("lungs")]);
  // 101 characters counted in code points: 50 astral characters are 100 UTF-16 units.
  assert.deepEqual(tokenizer.wordPieces("𝔸".repeat(51)), [100]);
});

Deno.test("loadVocabulary reads a vocab.txt", () => {
  const folder = Deno.makeTempDirSync();
  try {
    const path = join(folder, "vocab.txt");
    Deno.writeTextFileSync(path, vocabularyText(bundledVocabulary()));
    const vocabulary = loadVocabulary(path);
    assert.deepEqual(vocabulary.tokens, bundledVocabulary().tokens);
    const text = "Stable cardiomegaly; no effusion [SEP] x";
    assert.deepEqual(tokenize(text, { vocabulary }).ids, tokenize(text).ids);

    const crlf = join(folder, "crlf.txt");
    Deno.writeTextFileSync(crlf, "[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nlung\r\n##s\r\n");
    const small = loadVocabulary(crlf);
    assert.deepEqual(small.tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "lung", "##s"]);
    assert.deepEqual(Array.from(tokenize("Lungs clear", { vocabulary: small, length: 6 }).ids), [
      2,
      4,
      5,
      1,
      3,
      0,
    ]);
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
});

Deno.test("loadVocabulary rejects missing and malformed files", () => {
  const folder = Deno.makeTempDirSync();
  try {
    const write = (name: string, content: string | Uint8Array) => {
      const path = join(folder, name);
      if (typeof content === "string") Deno.writeTextFileSync(path, content);
      else Deno.writeFileSync(path, content);
      return path;
    };
    const rejects = (path: string, pattern: RegExp) =>
      assert.throws(
        () => loadVocabulary(path),
        (e: Error) => e instanceof CheffError && pattern.test(e.message),
        path,
      );

    rejects(join(folder, "absent.txt"), /absent\.txt: vocabulary file not found/);
    rejects(folder, /is a folder/);
    rejects(write("empty.txt", ""), /the vocabulary is empty/);
    rejects(
      write("json.txt", JSON.stringify(["[PAD]", "\u2581the"])),
      /not a BERT vocabulary \(missing \[PAD\], \[UNK\]/,
    );
    rejects(write("no-cls.txt", "[PAD]\n[UNK]\n[SEP]\n"), /missing \[CLS\]/);
    rejects(write("blank.txt", "[PAD]\n[UNK]\n\n[CLS]\n[SEP]\n"), /line 3 is empty/);
    rejects(
      write("repeat.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nthe\n"),
      /line 6 repeats the token 'the' of line 5/,
    );
    rejects(write("binary.txt", new Uint8Array([0x5b, 0xff, 0xfe, 0x00])), /not UTF-8 text/);
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
});

Deno.test("parseVocabularyText ignores trailing spaces and the final newline", () => {
  const vocabulary = parseVocabularyText("[PAD] \n[UNK]\n[CLS]\n[SEP]", "inline");
  assert.deepEqual(vocabulary.tokens, ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]);
  assert.equal(vocabulary.ids.get("[SEP]"), 3);
});
