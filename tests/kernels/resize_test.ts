import assert from "node:assert/strict";
import { getGpu } from "../../gpu/device.ts";
import { Tensor } from "../../gpu/tensor.ts";
import { cubicWeights, resizeBicubic, upsampleNearest2x } from "../../kernels/resize.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { kitTest, referencePath } from "../kit.ts";
import { assertClose, randomPair } from "./helpers.ts";

Deno.test("upsampleNearest2x repeats each pixel 2×2", async () => {
  const x = Tensor.host([1, 1, 2, 2], new Float32Array([1, 2, 3, 4]));
  const expected = [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4];
  assert.deepEqual([...upsampleNearest2x(x).data], expected);
  const gpu = await getGpu();
  assert.deepEqual([...(await upsampleNearest2x(Tensor.from(gpu, x.shape, x.data)).read())], expected);
});

Deno.test("upsampleNearest2x matches the reference on the GPU", async () => {
  const [x, gx] = await randomPair([2, 3, 5, 7], 1);
  assertClose(await upsampleNearest2x(gx).read(), upsampleNearest2x(x).data, 0, "nearest");
});

Deno.test("cubicWeights sum to one and interpolate at t = 0", () => {
  for (const t of [0, 0.25, 0.5, 0.9]) {
    const sum = cubicWeights(t).reduce((a, v) => a + v, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12, `t = ${t}: sum ${sum}`);
  }
  assert.deepEqual(cubicWeights(0), [0, 1, 0, 0]);
});

Deno.test("resizeBicubic matches the reference on the GPU", async () => {
  for (
    const [shape, oh, ow] of [[[2, 3, 16, 16], 64, 64], [[1, 2, 17, 9], 5, 23], [[1, 1, 7, 7], 7, 7]] as const
  ) {
    const [x, gx] = await randomPair([...shape], 2);
    const expected = resizeBicubic(x, oh, ow);
    const actual = resizeBicubic(gx, oh, ow);
    assert.deepEqual(actual.shape, [shape[0], shape[1], oh, ow]);
    assertClose(await actual.read(), expected.data, 1e-5, `bicubic ${shape} → ${oh}×${ow}`);
  }
});

Deno.test("resizeBicubic keeps a constant image constant", () => {
  const x = Tensor.host([1, 1, 4, 6], new Float32Array(24).fill(0.75));
  for (const v of resizeBicubic(x, 9, 5).data) assert.ok(Math.abs(v - 0.75) < 1e-6, `${v}`);
});

const SR_IO = referencePath("sr_io.safetensors");

kitTest("resizeBicubic matches PyTorch's bicubic upsampling of the SR example", [SR_IO], async () => {
  const file = parseSafetensors(await Deno.readFile(SR_IO), SR_IO);
  const low = file.tensors.get("ddim.low")!;
  const upsampled = file.tensors.get("ddim.upsampled")!;
  const x = Tensor.host(low.shape, low.data as Float32Array);
  const [, , oh, ow] = upsampled.shape;
  const expected = upsampled.data as Float32Array;
  assertClose(resizeBicubic(x, oh, ow).data, expected, 1e-5, "reference bicubic");
  const gpu = await getGpu();
  assertClose(
    await resizeBicubic(Tensor.from(gpu, x.shape, x.data), oh, ow).read(),
    expected,
    1e-5,
    "GPU bicubic",
  );
});
