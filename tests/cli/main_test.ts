/** The top-level command line: help, version with the adapter, and options before the command name. */
import assert from "node:assert/strict";
import { runCli } from "./run.ts";

Deno.test("version names the WebGPU adapter", async () => {
  const result = await runCli(["--version"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(new TextDecoder().decode(result.stdout), /^cheff \d+\.\d+\.\d+\n/);
  assert.match(new TextDecoder().decode(result.stdout), /\nWebGPU adapter: \S+/);
});

Deno.test("adapter option works before the command", async () => {
  for (const args of [["--adapter", "fallback", "--version"], ["--adapter=low-power", "--version"]]) {
    const result = await runCli(args);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    assert.match(new TextDecoder().decode(result.stdout), /WebGPU adapter: /);
  }
  const tokenized = await runCli(["-q", "tokenize", "effusion"]);
  assert.equal(tokenized.code, 0, tokenized.stderr);
});

Deno.test("unknown command is one line with exit 2", async () => {
  const result = await runCli(["frobnicate"]);
  assert.equal(result.code, 2);
  assert.equal(result.stderr.trim(), "cheff: unknown command 'frobnicate' (see cheff --help)");
});

Deno.test("main help lists the commands and an example", async () => {
  const result = await runCli(["--help"]);
  assert.equal(result.code, 0);
  for (const command of ["encode", "decode", "diffuse", "upscale", "generate", "train", "evaluate"]) {
    assert.match(new TextDecoder().decode(result.stdout), new RegExp(`\\n  ${command} `), command);
  }
  assert.match(new TextDecoder().decode(result.stdout), /Example:\n {2}cheff /);
});
