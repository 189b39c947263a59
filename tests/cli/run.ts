/**
 * Runs the cheff CLI as a subprocess, as a user would, and returns its exit
 * code, stdout bytes and stderr text; with the assertions the CLI tests share.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "../kit.ts";

export interface CliResult {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

export async function runCli(
  args: string[],
  options: { stdin?: Uint8Array; cwd?: string } = {},
): Promise<CliResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "cli", "main.ts"), ...args],
    cwd: options.cwd ?? REPO_ROOT,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  });
  const child = command.spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  return { code: output.code, stdout: output.stdout, stderr: new TextDecoder().decode(output.stderr) };
}

/** Asserts exit status 0, showing stderr otherwise. */
export function assertOk(run: CliResult): void {
  assert.equal(run.code, 0, run.stderr);
}

/** Asserts exit status 1 and exactly one `cheff: …` line on stderr matching `pattern`. */
export function assertFailsWith(run: CliResult, pattern: RegExp): void {
  assert.equal(run.code, 1, `exit code ${run.code}, stderr: ${run.stderr}`);
  const lines = run.stderr.trim().split("\n").filter((l) => !l.includes("XDG_RUNTIME_DIR"));
  assert.equal(lines.length, 1, `expected one line, got: ${run.stderr}`);
  assert.match(lines[0], /^cheff: /);
  assert.match(lines[0], pattern);
}
