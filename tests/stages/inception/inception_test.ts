import assert from "node:assert/strict";
import { join } from "node:path";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { CheffError } from "../../../io/errors.ts";
import { serializeSafetensors, type TensorToWrite } from "../../../io/safetensors.ts";
import { conv2dReference } from "../../../kernels/conv.ts";
import { loadInception } from "../../../stages/inception/load.ts";
import {
  BATCH_NORM_EPS,
  INCEPTION_FEATURES,
  inceptionConvolutions,
  inceptionParameters,
} from "../../../stages/inception/network.ts";
import { assertClose, randomValues } from "../../kernels/helpers.ts";

/**
 * Random weights in pytorch-fid's key layout: He-uniform convolutions, BatchNorm
 * statistics near (0, 1), plus the keys a real file also contains (`fc.*`,
 * `*.num_batches_tracked`), which the loader must skip.
 */
function randomInceptionTensors(seed: number): Map<string, TensorToWrite> {
  const tensors = new Map<string, TensorToWrite>();
  let s = seed;
  for (const [name, shape] of inceptionParameters().shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = randomValues(count, s++);
    if (name.endsWith(".conv.weight")) {
      const fanIn = shape[1] * shape[2] * shape[3];
      const bound = Math.sqrt(6 / fanIn);
      for (let i = 0; i < count; i++) values[i] *= bound;
    } else if (name.endsWith(".bn.weight")) {
      for (let i = 0; i < count; i++) values[i] = 1 + 0.2 * values[i];
    } else if (name.endsWith(".bn.running_var")) {
      for (let i = 0; i < count; i++) values[i] = 1 + 0.5 * values[i];
    } else {
      for (let i = 0; i < count; i++) values[i] *= 0.1;
    }
    tensors.set(name, { shape, data: values });
    if (name.endsWith(".bn.running_var")) {
      tensors.set(name.replace("running_var", "num_batches_tracked"), {
        shape: [],
        data: new BigInt64Array([0n]),
      });
    }
  }
  tensors.set("fc.weight", { shape: [1008, 2048], data: randomValues(1008 * 2048, s++) });
  tensors.set("fc.bias", { shape: [1008], data: randomValues(1008, s++) });
  return tensors;
}

let cachedFile: string | undefined;

/** Writes the random weight file once per test run. */
async function weightFile(): Promise<string> {
  if (cachedFile) return cachedFile;
  const dir = await Deno.makeTempDir({ prefix: "cheff-inception-" });
  cachedFile = join(dir, "pt_inception-random.safetensors");
  await Deno.writeFile(cachedFile, serializeSafetensors(randomInceptionTensors(100)));
  return cachedFile;
}

Deno.test("inception key layout lists every pytorch-fid block", () => {
  const shapes = inceptionParameters().shapes;
  const convolutions = inceptionConvolutions();
  assert.equal(convolutions.length, 94);
  assert.equal(shapes.size, 94 * 5);
  assert.deepEqual(shapes.get("Conv2d_1a_3x3.conv.weight"), [32, 3, 3, 3]);
  assert.deepEqual(shapes.get("Mixed_5b.branch_pool.conv.weight"), [32, 192, 1, 1]);
  assert.deepEqual(shapes.get("Mixed_6e.branch7x7dbl_5.conv.weight"), [192, 192, 1, 7]);
  assert.deepEqual(shapes.get("Mixed_7a.branch3x3_2.conv.weight"), [320, 192, 3, 3]);
  assert.deepEqual(shapes.get("Mixed_7c.branch3x3dbl_3b.conv.weight"), [384, 384, 3, 1]);
  assert.deepEqual(shapes.get("Mixed_7c.branch_pool.bn.running_var"), [192]);
});

Deno.test("inception folded basic conv matches conv, batch norm and relu", async () => {
  const { model, sha256 } = await loadInception(undefined, await weightFile());
  assert.match(sha256, /^[0-9a-f]{64}$/);
  const raw = randomInceptionTensors(100);
  const get = (name: string) => raw.get(name)!.data as Float32Array;
  const x = Tensor.host([1, 3, 11, 9], randomValues(3 * 11 * 9, 7));

  const actual = model.basicConv(x, "Conv2d_1a_3x3").data;
  const conv = conv2dReference(
    x,
    Tensor.host([32, 3, 3, 3], get("Conv2d_1a_3x3.conv.weight")),
    undefined,
    [2, 2],
    [0, 0],
    [5, 4],
  );
  const gamma = get("Conv2d_1a_3x3.bn.weight"), beta = get("Conv2d_1a_3x3.bn.bias");
  const mean = get("Conv2d_1a_3x3.bn.running_mean"), variance = get("Conv2d_1a_3x3.bn.running_var");
  const plane = conv.shape[2] * conv.shape[3];
  assert.deepEqual(conv.shape, [1, 32, 5, 4]);
  const expected = new Float32Array(conv.size);
  for (let i = 0; i < conv.size; i++) {
    const c = Math.floor(i / plane);
    const normalised = (gamma[c] * (conv.data[i] - mean[c])) / Math.sqrt(variance[c] + BATCH_NORM_EPS) +
      beta[c];
    expected[i] = Math.max(normalised, 0);
  }
  assertClose(actual, expected, 1e-6, "Conv2d_1a_3x3");
});

Deno.test("inception pool3 agrees between GPU and host", async () => {
  const path = await weightFile();
  const host = await loadInception(undefined, path);
  const gpu = await getGpu();
  const device = await loadInception(gpu, path);
  // 75 px is the smallest input the network takes; the host runs only the first image, which keeps it to seconds.
  const input = randomValues(2 * 3 * 75 * 75, 11);
  const expected = host.model.pool3(Tensor.host([1, 3, 75, 75], input.slice(0, 3 * 75 * 75)));
  const actual = device.model.pool3(Tensor.from(gpu, [2, 3, 75, 75], input));
  assert.deepEqual(expected.shape, [1, INCEPTION_FEATURES]);
  assert.deepEqual(actual.shape, [2, INCEPTION_FEATURES]);
  const values = await actual.read();
  assert.ok(values.some((v) => v > 0), "pool3 features are all zero");
  assertClose(values.subarray(0, INCEPTION_FEATURES), expected.data, 1e-4, "pool3 of image 0");
  assert.notDeepEqual(
    values.subarray(0, 8),
    values.subarray(INCEPTION_FEATURES, INCEPTION_FEATURES + 8),
    "both images gave the same features",
  );
  device.model.weights.release();
});

Deno.test("inception loader names missing and misshapen keys", async () => {
  const tensors = randomInceptionTensors(5);
  tensors.delete("Mixed_6a.branch3x3.bn.running_mean");
  tensors.set("Mixed_5b.branch1x1.conv.weight", {
    shape: [64, 192, 3, 3],
    data: new Float32Array(64 * 192 * 9),
  });
  const dir = await Deno.makeTempDir({ prefix: "cheff-inception-bad-" });
  const path = join(dir, "bad.safetensors");
  await Deno.writeFile(path, serializeSafetensors(tensors));
  await assert.rejects(
    () => loadInception(undefined, path),
    (error: unknown) => {
      assert.ok(error instanceof CheffError);
      assert.match(error.message, /1 missing \(Mixed_6a\.branch3x3\.bn\.running_mean\)/);
      assert.match(error.message, /misshapen \(Mixed_5b\.branch1x1\.conv\.weight \[64,192,3,3\]/);
      return true;
    },
  );
});
