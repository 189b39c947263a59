import assert from "node:assert/strict";
import { join } from "node:path";
import { upscaleCommand } from "../../cli/upscale.ts";
import { loadImage } from "../../io/image/load.ts";
import { readPngText } from "../../io/image/write.ts";
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from "../../io/safetensors.ts";
import { continueStream, parseStream, serializeStream } from "../../io/stream.ts";
import { relativeError } from "../kernels/helpers.ts";
import { FIXTURES_DIR, kitTest, referencePath, REPO_ROOT } from "../kit.ts";

const SR = referencePath("sr.pt");
const IO = referencePath("sr_io.safetensors");
const DENO = join(REPO_ROOT, "node_modules", ".bin", "deno");

interface Run {
  code: number;
  stdout: Uint8Array;
  stderr: string;
}

/** Runs `cheff upscale ARGS` as a user would, with optional bytes on standard input. */
async function cheff(args: string[], stdin?: Uint8Array): Promise<Run> {
  const child = new Deno.Command(DENO, {
    args: ["run", "-A", join(REPO_ROOT, "cli", "main.ts"), "upscale", ...args, "--quiet"],
    cwd: REPO_ROOT,
    env: { XDG_RUNTIME_DIR: "/tmp" },
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout, stderr: new TextDecoder().decode(stderr) };
}

/** Sets up the reference's small-model run in a temporary folder: low-resolution stream, config, noise files. */
function setUp() {
  const io = parseSafetensors(Deno.readFileSync(IO), IO);
  const get = (name: string) =>
    io.tensors.get(name)! as TensorToWrite & { shape: number[]; data: Float32Array };
  const dir = Deno.makeTempDirSync({ prefix: "cheff-upscale-" });
  const low = get("ddim.low");
  const stream = continueStream(undefined, "image", { shape: low.shape, data: low.data }, {
    command: "test",
  });
  Deno.writeFileSync(join(dir, "low.safetensors"), serializeStream(stream));
  Deno.writeFileSync(join(dir, "config.json"), new TextEncoder().encode(io.metadata.unet));
  Deno.writeFileSync(join(dir, "eta0.safetensors"), serializeSafetensors({ x_T: get("ddim.x_T") }));
  Deno.writeFileSync(
    join(dir, "eta1.safetensors"),
    serializeSafetensors({ x_T: get("ddim_eta1.x_T"), noise: get("ddim_eta1.noise") }),
  );
  return { dir, get, path: (name: string) => join(dir, name) };
}

function readOutput(path: string) {
  return parseStream(Deno.readFileSync(path), path, "image");
}

kitTest("upscale CLI reproduces the reference DDIM samples from recorded noise", [SR, IO], async () => {
  const kit = setUp();
  for (const [noise, eta, expected] of [["eta0", "0", "ddim.sample"], ["eta1", "1", "ddim_eta1.sample"]]) {
    const out = kit.path(`${noise}-out.safetensors`);
    const run = await cheff([
      kit.path("low.safetensors"),
      "--model",
      SR,
      "--config",
      kit.path("config.json"),
      "--steps",
      "10",
      "--eta",
      eta,
      "--noise",
      kit.path(`${noise}.safetensors`),
      "--out",
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const stream = readOutput(out);
    assert.deepEqual(stream.tensor.shape, [1, 1, 64, 64]);
    const error = relativeError(stream.tensor.data, kit.get(expected).data);
    console.log(`${expected} through the CLI: ${error.toExponential(2)} of scale`);
    assert.ok(error <= 1e-3, `${expected} error ${error}`);
    assert.equal(stream.synthetic, true);
    assert.ok("super-resolution" in stream.models);
    assert.equal(stream.history.at(-1)!.command, "upscale");
  }
  Deno.removeSync(kit.dir, { recursive: true });
});

kitTest("upscale CLI reads a stream on stdin and writes a PNG with its seed", [SR, IO], async () => {
  const kit = setUp();
  const out = kit.path("big.png");
  const run = await cheff(
    [
      "--model",
      SR,
      "--config",
      kit.path("config.json"),
      "--size",
      "64",
      "--steps",
      "2",
      "--seed",
      "7",
      "--out",
      out,
    ],
    Deno.readFileSync(kit.path("low.safetensors")),
  );
  assert.equal(run.code, 0, run.stderr);
  const image = await loadImage(out);
  assert.deepEqual([image.width, image.height], [64, 64]);
  const text = readPngText(Deno.readFileSync(out));
  assert.equal(text["cheff:seed"], "7");
  assert.equal(text["cheff:synthetic"], "true");
  Deno.removeSync(kit.dir, { recursive: true });
});

kitTest("upscale CLI crops an image file to a quarter of the output size", [SR, IO], async () => {
  const kit = setUp();
  const out = kit.path("from-file.safetensors");
  const run = await cheff([
    join(FIXTURES_DIR, "images", "nih_00000001_001_64_rgba.png"),
    "--model",
    SR,
    "--config",
    kit.path("config.json"),
    "--size",
    "32",
    "--steps",
    "1",
    "--seed",
    "1",
    "--out",
    out,
  ]);
  assert.equal(run.code, 0, run.stderr);
  const stream = readOutput(out);
  assert.deepEqual(stream.tensor.shape, [1, 1, 32, 32]);
  assert.ok(stream.tensor.data.every(Number.isFinite));
  Deno.removeSync(kit.dir, { recursive: true });
});

kitTest("upscale CLI rejects bad inputs with one line", [SR, IO], async () => {
  const kit = setUp();
  const latent = continueStream(undefined, "latent", { shape: [1, 3, 4, 4], data: new Float32Array(48) }, {
    command: "test",
  });
  Deno.writeFileSync(kit.path("latent.safetensors"), serializeStream(latent));
  const xT = kit.get("ddim_eta1.x_T");
  Deno.writeFileSync(
    kit.path("bad-noise.safetensors"),
    serializeSafetensors({
      x_T: xT,
      noise: { shape: [10, 1, 1, 64, 32], data: new Float32Array(10 * 64 * 32) },
    }),
  );
  const common = [
    "--config",
    kit.path("config.json"),
    "--steps",
    "10",
    "--out",
    kit.path("never.safetensors"),
  ];
  const cases: [string[], RegExp][] = [
    [
      [kit.path("latent.safetensors"), "--model", SR, ...common],
      /expected a[n]? image stream, got a latent stream/,
    ],
    [
      [kit.path("low.safetensors"), "--model", SR, "--noise", kit.path("bad-noise.safetensors"), ...common],
      /'noise' must be a float32 tensor \[S, 1, 1, 64, 64\]/,
    ],
    [[
      kit.path("low.safetensors"),
      "--model",
      SR,
      "--eta",
      "1",
      "--noise",
      kit.path("eta0.safetensors"),
      ...common,
    ], /no 'noise' tensor, but the sampler adds noise/],
    [
      [kit.path("low.safetensors"), "--model", kit.path("missing.pt"), ...common],
      /missing\.pt: file not found/,
    ],
    [
      [kit.path("low.safetensors"), "--model", SR, "--sampler", "ddpm", ...common],
      /ddpm sampler always takes all 2000 steps/,
    ],
    [
      [kit.path("low.safetensors"), "--model", SR, "--sampler", "ddpm", "--clip", ...common.slice(0, 2), "--out", kit.path("never.safetensors")],
      /'clip' applies to ddim/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const run = await cheff(args);
    assert.equal(run.code, 1, `${args.join(" ")}: ${run.stderr}`);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], /^cheff: /);
    assert.match(lines[0], pattern);
  }
  assert.equal(Deno.statSync(kit.dir).isDirectory, true);
  assert.throws(() => Deno.statSync(kit.path("never.safetensors")), Deno.errors.NotFound);
  Deno.removeSync(kit.dir, { recursive: true });
});

Deno.test("upscale --help shows the options and an example", () => {
  for (
    const option of [
      "--steps",
      "--sampler",
      "--eta",
      "--spacing",
      "--seed",
      "--size",
      "--noise",
      "--bits",
      "--format",
    ]
  ) {
    assert.ok(upscaleCommand.help.includes(option), option);
  }
  assert.match(upscaleCommand.help, /Examples:\n\s+cheff upscale /);
});
