/** Runs `cheff tokenize` as a user would, through cli/main.ts in a subprocess. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tokenizeCommand } from "../../cli/tokenize.ts";
import { bundledVocabulary, vocabularyText } from "../../stages/text/tokenizer.ts";
import { kitTest, referencePath, REPO_ROOT } from "../kit.ts";

const CASES = referencePath("tokenizer_cases.json");
const MAIN = join(REPO_ROOT, "cli", "main.ts");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cheff(args: string[], stdin?: string): Promise<Run> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: REPO_ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.makeTempDirSync() },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: new TextDecoder().decode(stdout), stderr: new TextDecoder().decode(stderr) };
}

function printedIds(run: Run): number[] {
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.stdout.endsWith("\n"), "one line ending in a newline");
  return run.stdout.trimEnd().split(" ").map(Number);
}

Deno.test("tokenize prints 150 ids, padding included", async () => {
  const run = await cheff(["tokenize", "No acute cardiopulmonary process."]);
  const ids = printedIds(run);
  assert.equal(ids.length, 150);
  // [CLS] no acute card ##io ##pu ##lm ##ona ##ry process . [SEP]
  assert.deepEqual(ids.slice(0, 12), [
    101,
    2053,
    11325,
    4003,
    3695,
    14289,
    13728,
    7856,
    2854,
    2832,
    1012,
    102,
  ]);
  assert.ok(ids.slice(12).every((id) => id === 0));
  assert.equal(run.stderr, "");
});

kitTest("tokenize prints the reference ids of a long report and warns", [CASES], async () => {
  const { cases } = JSON.parse(Deno.readTextFileSync(CASES)) as {
    cases: { name: string; text: string; ids: number[] }[];
  };
  const report = cases.find((c) => c.name === "long_report_truncated")!;
  const run = await cheff(["tokenize", report.text]);
  assert.deepEqual(printedIds(run), report.ids);
  assert.match(
    run.stderr,
    /^cheff: warning: the report has 370 word pieces; only the first 148 fit in 150 positions\n$/,
  );
  const accents = cases.find((c) => c.name === "accents_precomposed")!;
  assert.deepEqual(printedIds(await cheff(["tokenize", accents.text])), accents.ids);
});

Deno.test("tokenize reads standard input for -", async () => {
  const run = await cheff(["tokenize", "-", "--length", "6"], "Lungs clear.\n");
  assert.deepEqual(printedIds(run), [101, 8948, 3154, 1012, 102, 0]);
});

Deno.test("tokenize --length truncates with a warning", async () => {
  const run = await cheff(["tokenize", "one two three four five", "--length", "5"]);
  assert.deepEqual(printedIds(run), [101, 2028, 2048, 2093, 102]);
  assert.match(run.stderr, /warning: the report has 5 word pieces; only the first 3 fit in 5 positions/);
});

Deno.test("tokenize --vocab uses the given vocab.txt", async () => {
  const folder = Deno.makeTempDirSync();
  try {
    const small = join(folder, "small.txt");
    Deno.writeTextFileSync(small, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nlung\n##s\n");
    assert.deepEqual(
      printedIds(await cheff(["tokenize", "Lungs clear", "--vocab", small, "--length", "6"])),
      [
        2,
        4,
        5,
        1,
        3,
        0,
      ],
    );
    const full = join(folder, "vocab.txt");
    Deno.writeTextFileSync(full, vocabularyText(bundledVocabulary()));
    const withFile = await cheff(["tokenize", "Mild cardiomegaly.", "--vocab", full]);
    const bundled = await cheff(["tokenize", "Mild cardiomegaly."]);
    assert.deepEqual(printedIds(withFile), printedIds(bundled));
  } finally {
    Deno.removeSync(folder, { recursive: true });
  }
});

Deno.test("tokenize takes a report starting with - after --", async () => {
  const run = await cheff(["tokenize", "--length", "5", "--", "-x"]);
  assert.deepEqual(printedIds(run), [101, 1011, 1060, 102, 0]);
});

Deno.test("tokenize reports user errors on one line", async () => {
  const cases: [string[], RegExp][] = [
    [["tokenize"], /^cheff: tokenize: name the report text/],
    [["tokenize", "a", "b"], /^cheff: tokenize: unexpected argument 'b'/],
    [
      ["tokenize", "a", "--length", "1"],
      /^cheff: --length: invalid value '1', expected an integer from 2 to/,
    ],
    [["tokenize", "a", "--length", "ten"], /^cheff: --length: invalid value 'ten'/],
    [
      ["tokenize", "a", "--vocab", "/nonexistent/vocab.txt"],
      /^cheff: \/nonexistent\/vocab\.txt: vocabulary file not found/,
    ],
    [["tokenize", "a", "--vocab", "deno.json"], /^cheff: deno\.json: not a BERT vocabulary/],
    [["tokenize", "a", "--bogus"], /^cheff: tokenize: unknown option --bogus/],
  ];
  for (const [args, pattern] of cases) {
    const run = await cheff(args);
    assert.equal(run.code, 1, `${args.join(" ")}: exit status`);
    assert.equal(run.stdout, "", `${args.join(" ")}: no output`);
    assert.match(run.stderr, pattern, args.join(" "));
    assert.equal(run.stderr.trimEnd().split("\n").length, 1, `${args.join(" ")}: one line`);
  }
});

Deno.test("tokenize --help shows usage and an example", async () => {
  const run = await cheff(["tokenize", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /^Usage: cheff tokenize TEXT \[--vocab FILE\] \[--length N\]/);
  assert.match(run.stdout, /Example:\n {2}cheff tokenize "/);
  assert.equal(tokenizeCommand.name, "tokenize");
  assert.ok(tokenizeCommand.help.includes("--vocab FILE"));
});
