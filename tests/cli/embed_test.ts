/** `cheff embed` as a user runs it, through cli/main.ts in a subprocess. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors } from "../../io/safetensors.ts";
import { kitTest, referencePath, REPO_ROOT } from "../kit.ts";

const MAIN = join(REPO_ROOT, "cli", "main.ts");
const T2I = referencePath("ldm_t2i.pt");
const T2I_IO = referencePath("ldm_t2i_io.safetensors");
const UNCOND = referencePath("ldm_uncond.pt");
const dir = Deno.makeTempDirSync({ prefix: "cheff-embed-cli-" });

async function cheff(args: string[]) {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: REPO_ROOT,
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? dir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stderr } = await command.output();
  return { code, stderr: new TextDecoder().decode(stderr).split("\n").filter((l) => l && !l.includes("XDG_RUNTIME_DIR")) };
}

kitTest("embed CLI writes the reference context and tokens, and warns on truncation", [T2I, T2I_IO], async () => {
  const io = parseSafetensors(Deno.readFileSync(T2I_IO), T2I_IO);
  const config = join(dir, "t2i.json");
  Deno.writeTextFileSync(config, io.metadata.ldm_config);
  const reports = JSON.parse(io.metadata.reports) as string[];
  const out = join(dir, "context.safetensors");
  const run = await cheff(["embed", "--model", T2I, "--config", config, "--report", reports[0], "--report", reports[1], "--out", out, "-q"]);
  assert.equal(run.code, 0, run.stderr.join("\n"));

  const stream = parseSafetensors(Deno.readFileSync(out), out);
  assert.equal(stream.metadata["cheff.kind"], "context");
  const context = stream.tensors.get("context")!;
  const reference = io.tensors.get("context")!.data as Float32Array;
  assert.deepEqual(context.shape, [2, 150, 4]);
  let error = 0, scale = 0;
  for (let i = 0; i < reference.length; i++) {
    error = Math.max(error, Math.abs((context.data as Float32Array)[i] - reference[i]));
    scale = Math.max(scale, Math.abs(reference[i]));
  }
  assert.ok(error <= 1e-5 * scale, `context differs by ${error / scale} of scale`);
  assert.equal(stream.tensors.get("tokens")!.dtype, "I64");
  assert.deepEqual(stream.tensors.get("tokens")!.data, io.tensors.get("tokens")!.data);

  const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
  const truncated = await cheff(["embed", "--model", T2I, "--config", config, "--report", long, "--out", join(dir, "long.safetensors"), "-q"]);
  assert.equal(truncated.code, 0, truncated.stderr.join("\n"));
  assert.ok(truncated.stderr.some((l) => /warning: the report has \d+ word pieces and is truncated to the first 148/.test(l)), truncated.stderr.join("\n"));
});

kitTest("embed CLI rejects a missing report and an unconditional model", [T2I, UNCOND], async () => {
  const out = join(dir, "never.safetensors");
  const noReport = await cheff(["embed", "--model", T2I, "--out", out]);
  assert.equal(noReport.code, 1);
  assert.deepEqual(noReport.stderr, ["cheff: embed: give --report TEXT or --report-file FILE (see cheff embed --help)"]);
  const unconditional = await cheff(["embed", "--model", UNCOND, "--report", "effusion", "--out", out]);
  assert.equal(unconditional.code, 1);
  assert.equal(unconditional.stderr.length, 1, unconditional.stderr.join("\n"));
  assert.match(unconditional.stderr[0], /^cheff: .*no text encoder/);
  assert.throws(() => Deno.statSync(out));
});
