/**
 * `cheff tokenize`: prints the BERT word-piece ids the report-conditioned model
 * receives for a report, padding included.
 */
import { CheffError } from "../io/errors.ts";
import { readInput } from "../io/files.ts";
import {
  BertTokenizer,
  bundledVocabulary,
  DEFAULT_LENGTH,
  loadVocabulary,
} from "../stages/text/tokenizer.ts";
import { type Command, COMMON_HELP, intOption, parseOptions, stringOption } from "./command.ts";
import { warn } from "./common.ts";

/** Maximum --length, far above the 150 positions of the released text encoder. */
const MAX_LENGTH = 1_000_000;

export const tokenizeCommand: Command = {
  name: "tokenize",
  summary: "print a report's BERT token ids",
  help: `Usage: cheff tokenize TEXT [--vocab FILE] [--length N]

Prints the bert-base-uncased word-piece ids of TEXT as the report-conditioned
model receives them: [CLS]=101, the word pieces, [SEP]=102, then [PAD]=0 up to
the length, separated by spaces on one line. TEXT "-" reads the report from
standard input. A report with more pieces than fit is truncated, with a warning
on stderr. A report that starts with "-" goes last, after "--".

Options:
  --vocab FILE   a vocab.txt (one token per line, line n is id n − 1) in place of
                 the bundled bert-base-uncased vocabulary
  --length N     number of ids to print, [CLS] and [SEP] included (default ${DEFAULT_LENGTH},
                 the positions of the released text encoder)

Example:
  cheff tokenize "Mild cardiomegaly. No pleural effusion."
  cat report.txt | cheff tokenize - --length 64
  cheff tokenize --length 32 -- "-- no change --"

${COMMON_HELP}`,

  async run(args) {
    const parsed = parseOptions(
      "tokenize",
      args,
      { vocab: { type: "string" }, length: { type: "string" } },
      1,
    );
    if (parsed.values.help) {
      console.log(this.help);
      return;
    }
    const source = parsed.positionals[0];
    if (source === undefined) {
      throw new CheffError(
        'tokenize: name the report text, or "-" to read it from standard input (see cheff tokenize --help)',
      );
    }
    const length = intOption(parsed, "length", DEFAULT_LENGTH, 2, MAX_LENGTH);
    const vocabPath = stringOption(parsed, "vocab");
    const vocabulary = vocabPath === undefined ? bundledVocabulary() : loadVocabulary(vocabPath);

    let text = source;
    if (source === "-") {
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(await readInput("-"));
      } catch (error) {
        if (error instanceof CheffError) throw error;
        throw new CheffError("tokenize: standard input is not UTF-8 text");
      }
    }

    const { ids, truncated, pieceCount } = new BertTokenizer(vocabulary).encode(text, length);
    if (truncated) {
      warn(
        `the report has ${pieceCount} word pieces; only the first ${length - 2} fit in ${length} positions`,
      );
    }
    const bytes = new TextEncoder().encode(ids.join(" ") + "\n");
    let written = 0;
    while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
  },
};
