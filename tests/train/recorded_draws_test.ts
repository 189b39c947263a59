/** Recorded draws for `cheff train --draws`: the file's layout is checked, and each step gets its own slice. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { serializeSafetensors, type TensorToWrite } from "../../io/safetensors.ts";
import { RecordedDraws } from "../../train/recorded_draws.ts";

async function write(tensors: Record<string, TensorToWrite>): Promise<string> {
  const folder = await Deno.makeTempDir();
  const path = join(folder, "draws.safetensors");
  await Deno.writeFile(path, serializeSafetensors(tensors));
  return path;
}

const ramp = (count: number, start = 0) => Float32Array.from({ length: count }, (_, i) => start + i);

Deno.test("recorded draws give each step its timesteps, noise and posterior noise", async () => {
  // Two steps of two images with latents of 1×2×2 values.
  const path = await write({
    t: { shape: [2, 2], data: BigInt64Array.of(5n, 7n, 11n, 13n) },
    noise: { shape: [2, 2, 1, 2, 2], data: ramp(16) },
    posterior_noise: { shape: [2, 2, 1, 2, 2], data: ramp(16, 100) },
  });
  const draws = await RecordedDraws.load(path);
  const latent = [1, 2, 2];
  const second = draws.forStep(1, 2, latent, 1000);
  assert.deepEqual(second.t, [11, 13]);
  assert.deepEqual(Array.from(second.noise), Array.from(ramp(8, 8)));
  assert.deepEqual(Array.from(second.posteriorNoise), Array.from(ramp(8, 108)));
  assert.throws(() => draws.forStep(2, 2, latent, 1000), /contains draws for 2 step\(s\), so step 3 has none/);
  assert.throws(
    () => draws.forStep(0, 1, latent, 1000),
    /batches of 2 latents of shape \[1, 2, 2\], but the run has 1 of \[1, 2, 2\]/,
  );
  // The same number of values in another shape is another latent.
  assert.throws(() => draws.forStep(0, 2, [1, 1, 4], 1000), /but the run has 2 of \[1, 1, 4\]/);
  assert.throws(
    () => draws.forStep(0, 2, latent, 6),
    /timestep 7 at step 1; expected one below the schedule's 6 steps/,
  );
  draws.checkSteps(0, 2);
  assert.throws(() => draws.checkSteps(1, 3), /contains draws for 2 step\(s\), but the run needs steps 2 to 3/);
});

Deno.test("a draws file with a missing or misshapen tensor is refused in one line", async () => {
  const noise = { shape: [1, 2, 1, 2, 2], data: ramp(8) };
  const cases: [Record<string, TensorToWrite>, RegExp][] = [
    [{ t: { shape: [1, 2], data: Int32Array.of(1, 2) }, noise }, /no 'posterior_noise' tensor/],
    [
      { t: { shape: [2], data: Int32Array.of(1, 2) }, noise, posterior_noise: noise },
      /'t' has shape \[2\], expected 2 axes/,
    ],
    [
      {
        t: { shape: [1, 2], data: Int32Array.of(1, 2) },
        noise,
        posterior_noise: { shape: [1, 2, 1, 1, 2], data: ramp(4) },
      },
      /'posterior_noise' has shape \[1,2,1,1,2\], expected \[1, 2, C, h, w\]/,
    ],
    [
      { t: { shape: [1, 2], data: Float32Array.of(1.5, 2) }, noise, posterior_noise: noise },
      /'t' contains a value that is not a timestep; expected integers ≥ 0/,
    ],
    [
      { t: { shape: [1, 2], data: Int32Array.of(1, 2) }, noise, posterior_noise: { shape: noise.shape, data: ramp(8).fill(NaN, 3, 4) } },
      /'posterior_noise' contains a NaN or infinite value/,
    ],
  ];
  for (const [tensors, pattern] of cases) {
    const path = await write(tensors);
    await assert.rejects(() => RecordedDraws.load(path), pattern);
  }
});
