/**
 * `cheff train` against the reference kit's recorded latent-diffusion step, run
 * as a user would run it. The inputs are the step's two radiographs as PNG
 * files, an index, a pipeline file that starts from `ldm_uncond.pt` at the
 * released learning rate, and the step's recorded draws given with `--draws`.
 * The logged loss, the trained U-Net in the model file (after AdamW from fresh
 * moments) and its EMA (continued from the checkpoint's shadows) match the
 * recorded ones.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodePng } from "../../io/image/write.ts";
import { type HostTensor, parseSafetensors, serializeSafetensors } from "../../io/safetensors.ts";
import { emaKey } from "../../stages/latent/load.ts";
import { kitTest, referencePath, REPO_ROOT } from "../kit.ts";

const STEP = referencePath("train_step.safetensors");
const UNCOND = referencePath("ldm_uncond.pt");
const PREFIX = "model.diffusion_model.";

async function cheff(args: string[]): Promise<{ code: number; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(REPO_ROOT, "cli", "main.ts"), ...args],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  const { code, stderr } = await command.output();
  return { code, stderr: new TextDecoder().decode(stderr) };
}

kitTest("cheff train replays the reference step: loss, AdamW and EMA", [STEP, UNCOND], async () => {
  const reference = parseSafetensors(await Deno.readFile(STEP), STEP);
  const tensor = (name: string): HostTensor => {
    const t = reference.tensors.get(name);
    if (!t) throw new Error(`train_step.safetensors has no ${name}`);
    return t;
  };
  const floats = (name: string) => tensor(name).data as Float32Array;
  const folder = await Deno.makeTempDir();
  try {
    // The batch's images are 8-bit grayscale values replicated to three channels, so PNGs carry them exactly.
    const index: Record<string, unknown> = {};
    const plane = 64 * 64;
    for (const i of [0, 1]) {
      const gray = floats("batch.img").slice(i * 3 * plane, i * 3 * plane + plane);
      const id = String(i).padStart(6, "0");
      await Deno.writeFile(
        join(folder, `${id}.png`),
        encodePng({ width: 64, height: 64, channels: 1, data: gray }),
      );
      index[id] = { path: `${id}.png`, key: `reference image ${i}` };
    }
    await Deno.writeTextFile(join(folder, "index.json"), JSON.stringify(index));

    const [n, c, h, w] = tensor("batch.noise").shape;
    await Deno.writeFile(
      join(folder, "draws.safetensors"),
      serializeSafetensors({
        t: { shape: [1, n], data: tensor("batch.t").data as BigInt64Array },
        noise: { shape: [1, n, c, h, w], data: floats("batch.noise") },
        posterior_noise: { shape: [1, n, c, h, w], data: floats("batch.posterior_noise") },
      }),
    );
    await Deno.writeTextFile(
      join(folder, "train.json"),
      JSON.stringify({
        cheff: 1,
        models: { start: UNCOND },
        train: {
          recipe: "latent-diffusion",
          model: "start",
          config: JSON.parse(reference.metadata.config),
          data: "index.json",
          image_size: 64,
          batch_size: 2,
          steps: 1,
          lr: Number(floats("optim.lr")[0]),
          output: "run",
        },
      }),
    );

    const run = await cheff([
      "train",
      join(folder, "train.json"),
      "--cpu",
      "--draws",
      join(folder, "draws.safetensors"),
    ]);
    assert.equal(run.code, 0, run.stderr);

    const log = JSON.parse((await Deno.readTextFile(join(folder, "run", "log.jsonl"))).trim());
    const expectedLoss = Number(floats("loss")[0]);
    assert.ok(
      Math.abs(log.loss - expectedLoss) <= 1e-5 * expectedLoss,
      `loss ${log.loss} against ${expectedLoss}`,
    );

    const model = parseSafetensors(await Deno.readFile(join(folder, "run", "model.safetensors")));
    const names = (JSON.parse(reference.metadata.params) as string[]).map((name) =>
      name.slice(PREFIX.length)
    );
    // AdamW's first step moves each weight by about lr in the direction of its gradient's sign. Float32
    // rounding can flip that sign where the reference gradient is within the gradient tolerances of zero:
    // 1e-3 of its tensor's scale, or 1e-6 of the network's for the tensors the kit lists as rounding noise.
    // Such an element may differ by up to 2·lr. Every other element must match within 1e-6 of the
    // tensor's scale, and so must the EMA wherever its weight does.
    const lr = Number(floats("optim.lr")[0]);
    const networkScale = Math.max(
      ...names.map((name) => Math.max(...floats(`grad.${PREFIX}${name}`).map(Math.abs))),
    );
    const decayUsed = Number(floats("ema.decay_used")[0]);
    let flipped = 0, total = 0;
    for (const name of names) {
      const trained = model.tensors.get(PREFIX + name)!.data as Float32Array;
      const expected = floats(`after_adamw.${PREFIX}${name}`);
      const grad = floats(`grad.${PREFIX}${name}`);
      const scale = Math.max(...expected.map(Math.abs));
      const gradScale = Math.max(...grad.map(Math.abs));
      const shadow = model.tensors.get(emaKey(name))!.data as Float32Array;
      const expectedShadow = floats(`ema.${PREFIX}${name}`);
      const shadowScale = Math.max(...expectedShadow.map(Math.abs));
      for (let i = 0; i < expected.length; i++) {
        const error = Math.abs(trained[i] - expected[i]);
        // The EMA moves (1 − decay) of the way to the weight, so it inherits that share of a weight's error.
        const shadowError = Math.abs(shadow[i] - expectedShadow[i]);
        assert.ok(
          shadowError <= (1 - decayUsed) * error + 1e-6 * shadowScale,
          `EMA ${name}[${i}]: ${shadow[i]} against ${expectedShadow[i]}`,
        );
        total++;
        if (error <= 1e-6 * scale) continue;
        flipped++;
        assert.ok(
          (Math.abs(grad[i]) <= 1e-3 * gradScale || Math.abs(grad[i]) <= 1e-6 * networkScale) &&
            error <= 2 * lr * 1.01 + 1e-6 * scale,
          `${name}[${i}]: ${trained[i]} against ${expected[i]} (reference gradient ${
            grad[i]
          }, scale ${gradScale})`,
        );
      }
    }
    assert.ok(flipped <= total / 1000, `${flipped} of ${total} weights took the other sign step`);
    console.log(`after AdamW: ${flipped} of ${total} near-zero-gradient weights stepped the other way`);
    assert.equal(
      Number(model.tensors.get("model_ema.num_updates")!.data[0]),
      Number(tensor("ema.num_updates").data[0]),
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
