/** The posterior cache returns the frozen encoder's values and encodes each image once. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { loadAutoencoder } from "../../stages/autoencoder/load.ts";
import type { Batch } from "../../train/data.ts";
import { PosteriorCache } from "../../train/posterior_cache.ts";
import { assertClose, randomValues } from "../kernels/helpers.ts";
import { REPO_ROOT } from "../kit.ts";

function batchOf(paths: string[], images: Float32Array): Batch {
  return {
    position: 0,
    samples: paths.map((path) => ({ id: path, path })),
    images,
    shape: [paths.length, 3, 64, 64],
  };
}

Deno.test("posterior cache matches batch encoding", async () => {
  const gpu = await getGpu();
  const { model } = await loadAutoencoder(gpu, join(REPO_ROOT, "weights/test/autoencoder.safetensors"));
  let encodedImages = 0;
  const counting = {
    encode(x: Tensor) {
      encodedImages += x.shape[0];
      return model.encode(x);
    },
  };
  const cache = new PosteriorCache(gpu, counting);
  const item = 3 * 64 * 64;
  const a = randomValues(item, 1), b = randomValues(item, 2), c = randomValues(item, 3);
  const images = new Float32Array(3 * item);
  [a, b, c].forEach((v, i) => images.set(v, i * item));

  const expected = model.encode(Tensor.from(gpu, [3, 3, 64, 64], images));
  const [expectedMean, expectedLogvar] = await Tensor.readAll([expected.mean, expected.logvar]);
  const first = (await cache.encoderFor(batchOf(["a", "b", "c"], images))).encode(undefined as never);
  const [mean, logvar] = await Tensor.readAll([first.mean, first.logvar]);
  assertClose(mean, expectedMean, 1e-6, "mean");
  assertClose(logvar, expectedLogvar, 1e-6, "logvar");
  assert.equal(encodedImages, 3);
  assert.equal(cache.size, 3);

  // A later batch in another order with one new image encodes only that image.
  const d = randomValues(item, 4);
  const next = new Float32Array(3 * item);
  [c, d, a].forEach((v, i) => next.set(v, i * item));
  const second = (await cache.encoderFor(batchOf(["c", "d", "a"], next))).encode(undefined as never);
  const [secondMean] = await Tensor.readAll([second.mean]);
  assert.equal(encodedImages, 4);
  assert.equal(cache.size, 4);
  const perImage = secondMean.length / 3;
  assert.deepEqual(secondMean.subarray(0, perImage), mean.subarray(2 * perImage));
  assert.deepEqual(secondMean.subarray(2 * perImage), mean.subarray(0, perImage));
});
