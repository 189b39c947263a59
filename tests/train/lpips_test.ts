/**
 * The perceptual loss: LPIPS on a narrow random VGG16 against a plain float64
 * implementation written here, its gradient by finite differences, and the
 * loading of its weights from a model file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import type { HostTensor } from "../../io/safetensors.ts";
import { serializeSafetensors } from "../../io/safetensors.ts";
import { Lpips, tapDistance, VGG16_SLICES } from "../../train/lpips.ts";
import { randomValues } from "../kernels/helpers.ts";
import { kitTest, referencePath } from "../kit.ts";
import { randomLpipsWeights } from "./helpers.ts";

/** LPIPS per image by definition, in float64: scaling, VGG16 slices, channel-normalised taps, heads, means. */
function plainLpips(
  weights: Map<string, HostTensor>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  shape: number[],
): number[] {
  const [n, , size] = shape;
  const shift = [-0.030, -0.088, -0.188], scale = [0.458, 0.448, 0.450];
  const features = (image: ArrayLike<number>, i: number) => {
    let channels = 3, side = size;
    let h = new Float64Array(3 * side * side);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < side * side; p++) {
        h[c * side * side + p] = (image[(i * 3 + c) * side * side + p] - shift[c]) / scale[c];
      }
    }
    const taps: { values: Float64Array; channels: number; side: number }[] = [];
    for (const [k, convs] of VGG16_SLICES.entries()) {
      if (k > 0) {
        const half = Math.floor(side / 2);
        const pooled = new Float64Array(channels * half * half);
        for (let c = 0; c < channels; c++) {
          for (let y = 0; y < half; y++) {
            for (let x = 0; x < half; x++) {
              const at = (dy: number, dx: number) => h[(c * side + 2 * y + dy) * side + 2 * x + dx];
              pooled[(c * half + y) * half + x] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
            }
          }
        }
        h = pooled;
        side = half;
      }
      for (const index of convs) {
        const w = weights.get(`net.slice${k + 1}.${index}.weight`)!;
        const bias = weights.get(`net.slice${k + 1}.${index}.bias`)!.data;
        const out = w.shape[0];
        const next = new Float64Array(out * side * side);
        for (let o = 0; o < out; o++) {
          for (let y = 0; y < side; y++) {
            for (let x = 0; x < side; x++) {
              let sum = Number(bias[o]);
              for (let c = 0; c < channels; c++) {
                for (let ky = 0; ky < 3; ky++) {
                  for (let kx = 0; kx < 3; kx++) {
                    const yy = y + ky - 1, xx = x + kx - 1;
                    if (yy < 0 || yy >= side || xx < 0 || xx >= side) continue;
                    sum += Number(w.data[((o * channels + c) * 3 + ky) * 3 + kx]) *
                      h[(c * side + yy) * side + xx];
                  }
                }
              }
              next[(o * side + y) * side + x] = Math.max(sum, 0);
            }
          }
        }
        h = next;
        channels = out;
      }
      taps.push({ values: h, channels, side });
    }
    return taps;
  };
  const distances: number[] = [];
  for (let i = 0; i < n; i++) {
    const fa = features(a, i), fb = features(b, i);
    let total = 0;
    for (const [k, tap] of fa.entries()) {
      const head = weights.get(`lin${k}.model.1.weight`)!.data;
      const positions = tap.side * tap.side;
      let sum = 0;
      for (let p = 0; p < positions; p++) {
        let na = 0, nb = 0;
        for (let c = 0; c < tap.channels; c++) {
          na += tap.values[c * positions + p] ** 2;
          nb += fb[k].values[c * positions + p] ** 2;
        }
        na = Math.sqrt(na) + 1e-10;
        nb = Math.sqrt(nb) + 1e-10;
        for (let c = 0; c < tap.channels; c++) {
          sum += Number(head[c]) *
            (tap.values[c * positions + p] / na - fb[k].values[c * positions + p] / nb) ** 2;
        }
      }
      total += sum / positions;
    }
    distances.push(total);
  }
  return distances;
}

const SHAPE = [2, 3, 16, 16];
const SIZE = SHAPE.reduce((a, d) => a * d, 1);

Deno.test("LPIPS on the GPU matches its definition computed plainly", async () => {
  const gpu = await getGpu();
  const weights = randomLpipsWeights(3);
  const a = randomValues(SIZE, 101), b = randomValues(SIZE, 202);
  const lpips = Lpips.fromTensors(gpu, weights, "test weights");
  const { perImage, grad } = await lpips.distance(Tensor.from(gpu, SHAPE, a), Tensor.from(gpu, SHAPE, b));
  grad.release();
  lpips.release();
  const expected = plainLpips(weights, a, b, SHAPE);
  for (const [i, d] of perImage.entries()) {
    assert.ok(Math.abs(d - expected[i]) <= 1e-4 * expected[i], `image ${i}: ${d} against ${expected[i]}`);
  }
  assert.ok(expected.every((d) => d > 0), "different images are at a positive distance");
  const same = Lpips.fromTensors(gpu, weights, "test weights");
  const self = await same.distance(Tensor.from(gpu, SHAPE, a), Tensor.from(gpu, SHAPE, a));
  assert.ok(
    self.perImage.every((d) => d < 1e-9),
    `an image is at distance 0 from itself, got ${self.perImage}`,
  );
  same.release();
});

Deno.test("LPIPS gradient with respect to the reconstruction matches finite differences", async () => {
  const weights = randomLpipsWeights(5);
  const lpips = Lpips.fromTensors(undefined, weights, "test weights");
  const a = randomValues(SIZE, 303), b = randomValues(SIZE, 404);
  const { grad } = await lpips.distance(Tensor.host(SHAPE, a), Tensor.host(SHAPE, b.slice()));
  const total = (image: Float64Array) => plainLpips(weights, a, image, SHAPE).reduce((s, d) => s + d, 0);
  const scale = Math.max(...grad.data.map(Math.abs));
  // A small step in float64: a larger one crosses ReLU and max-pool switches.
  const h = 1e-4;
  for (let e = 0; e < SIZE; e += 97) {
    const up = Float64Array.from(b), down = Float64Array.from(b);
    up[e] += h;
    down[e] -= h;
    const fd = (total(up) - total(down)) / (2 * h);
    assert.ok(
      Math.abs(fd - grad.data[e]) <= 2e-3 * scale,
      `element ${e}: analytic ${grad.data[e]}, finite difference ${fd} (scale ${scale})`,
    );
  }
});

Deno.test("a tap whose reconstruction features are all 0 at a position gets no gradient there", () => {
  // One image, two channels, two positions; position 1 of the reconstruction is all zeros.
  const input = Float32Array.of(1, 2, 3, 4);
  const reconstruction = Float32Array.of(2, 0, 1, 0);
  const { distances, grad } = tapDistance(input, reconstruction, Float32Array.of(1, 1), [1, 2, 1, 2]);
  assert.deepEqual([grad[1], grad[3]], [0, 0]);
  assert.ok(Number.isFinite(distances[0]));
  assert.ok(distances[0] > 0);
});

Deno.test("LPIPS weights load from a file under the checkpoint's prefix, and a missing one is named", async () => {
  const folder = await Deno.makeTempDir();
  const weights = randomLpipsWeights(7);
  const prefixed = new Map([...weights].map(([name, t]) => [`loss.perceptual_loss.${name}`, t]));
  const path = join(folder, "lpips.safetensors");
  await Deno.writeFile(
    path,
    serializeSafetensors(prefixed as Map<string, HostTensor & { data: Float32Array }>),
  );
  const lpips = await Lpips.load(undefined, path);
  const a = randomValues(SIZE, 1), b = randomValues(SIZE, 2);
  const { perImage } = await lpips.distance(Tensor.host(SHAPE, a), Tensor.host(SHAPE, b));
  const expected = plainLpips(weights, a, b, SHAPE);
  assert.ok(Math.abs(perImage[0] - expected[0]) <= 1e-4 * expected[0]);

  prefixed.delete("loss.perceptual_loss.lin3.model.1.weight");
  await Deno.writeFile(
    path,
    serializeSafetensors(prefixed as Map<string, HostTensor & { data: Float32Array }>),
  );
  await assert.rejects(
    () => Lpips.load(undefined, path),
    /lpips\.safetensors: missing the LPIPS weight lin3\.model\.1\.weight/,
  );
  await Deno.remove(folder, { recursive: true });
});

kitTest("the reference autoencoder checkpoint, which leaves VGG16 out, is refused as LPIPS weights", [
  referencePath("ae.pt"),
], async () => {
  await assert.rejects(
    () => Lpips.load(undefined, referencePath("ae.pt")),
    /ae\.pt: no LPIPS weights; expected loss\.perceptual_loss\.net\.slice1\.0\.weight/,
  );
});
