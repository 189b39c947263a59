/**
 * The backward of every differentiable op against central finite differences
 * of its forward reference (host tensors, tiny shapes), and the GPU backward
 * kernels against the host references.
 */
import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { Tensor } from "../../../gpu/tensor.ts";
import { Tape } from "../../../train/autograd.ts";
import * as ops from "../../../train/ops.ts";
import { randomValues, relativeError } from "../helpers.ts";

type Op = (inputs: Tensor[]) => Tensor;

interface Case {
  name: string;
  shapes: number[][];
  op: Op;
  /** Inputs that get no gradient check (integer-like or fixed). */
  skip?: number[];
}

function hostInputs(shapes: number[][], seed: number): Tensor[] {
  return shapes.map((shape, i) =>
    Tensor.host(shape, randomValues(shape.reduce((a, d) => a * d, 1), seed + 17 * i))
  );
}

/** L = Σ w·f(inputs) in float64. */
function objective(op: Op, inputs: Tensor[], w: Float32Array): number {
  const y = op(inputs);
  let sum = 0;
  for (let i = 0; i < y.size; i++) sum += w[i] * y.data[i];
  return sum;
}

function analytic(op: Op, inputs: Tensor[], w: Float32Array): Float32Array[] {
  const tape = new Tape();
  tape.watch(...inputs);
  const y = tape.run(() => op(inputs));
  const grads = tape.backward(y, Tensor.host(y.shape, w.slice()));
  const out = inputs.map((t) => grads.get(t)?.data.slice() ?? new Float32Array(t.size));
  tape.release();
  return out;
}

const CASES: Case[] = [
  {
    name: "conv2d 3×3 stride 1 with bias and residual",
    shapes: [[2, 3, 5, 6], [4, 3, 3, 3], [4], [2, 4, 5, 6]],
    op: ([x, w, b, r]) => ops.conv2d(x, w, b, { padding: 1, residual: r }),
  },
  {
    name: "conv2d stride 2 with asymmetric padding",
    shapes: [[1, 2, 7, 6], [3, 2, 3, 3], [3]],
    op: ([x, w, b]) => ops.conv2d(x, w, b, { stride: 2, padding: [0, 1, 0, 1] }),
  },
  {
    name: "conv2d stride 2 padding 1 on an even size",
    shapes: [[1, 2, 6, 6], [3, 2, 3, 3], [3]],
    op: ([x, w, b]) => ops.conv2d(x, w, b, { stride: 2, padding: 1 }),
  },
  {
    name: "conv2d 4×4 stride 2 and 7×7",
    shapes: [[1, 2, 8, 8], [2, 2, 4, 4], [2, 2, 7, 7]],
    op: ([x, w, w7]) =>
      ops.conv2d(ops.conv2d(x, w, undefined, { stride: 2, padding: 1 }), w7, undefined, { padding: 3 }),
  },
  {
    name: "convTranspose2d 4×4 stride 2 padding 1",
    shapes: [[2, 3, 3, 4], [3, 2, 4, 4], [2]],
    op: ([x, w, b]) => ops.convTranspose2d(x, w, b, { stride: 2, padding: 1 }),
  },
  { name: "linear with bias", shapes: [[2, 3, 5], [4, 5], [4]], op: ([x, w, b]) => ops.linear(x, w, b) },
  {
    name: "matmul transposed, scaled and batch-broadcast",
    shapes: [[2, 4, 3], [5, 4], [2, 3, 6]],
    op: ([a, b, c]) => {
      const ab = ops.matmul(a, b, { transposeA: true, transposeB: true, alpha: 0.5 }); // [2, 3, 5]
      return ops.matmul(ab, c, { transposeA: true }); // [2, 5, 6]
    },
  },
  {
    name: "attention with Lq ≠ Lk",
    shapes: [[2, 3, 4], [2, 5, 4], [2, 5, 3]],
    op: ([q, k, v]) => ops.attention(q, k, v, 0.7),
  },
  { name: "softmax with scale", shapes: [[3, 7]], op: ([x]) => ops.softmax(x, { scale: 1.5 }) },
  {
    name: "groupNorm",
    shapes: [[2, 4, 3, 3], [4], [4]],
    op: ([x, g, b]) => ops.groupNorm(x, 2, g, b, 1e-5),
  },
  {
    name: "groupNorm with SiLU",
    shapes: [[2, 6, 2, 3], [6], [6]],
    op: ([x, g, b]) => ops.groupNorm(x, 3, g, b, 1e-6, { silu: true }),
  },
  { name: "layerNorm", shapes: [[2, 3, 5], [5], [5]], op: ([x, g, b]) => ops.layerNorm(x, g, b, 1e-5) },
  {
    name: "add and mul broadcast",
    shapes: [[2, 3, 4, 2], [2, 3, 1, 1], [4, 2]],
    op: ([a, b, c]) => ops.mul(ops.add(a, b, 0.5, 2), c, 1.5),
  },
  { name: "affine, silu, gelu", shapes: [[3, 8]], op: ([x]) => ops.gelu(ops.silu(ops.affine(x, 2, 0.25))) },
  { name: "clamp", shapes: [[20]], op: ([x]) => ops.clamp(ops.affine(x, 3), -1, 2) },
  {
    name: "concat, slice and permute",
    shapes: [[2, 3, 4], [2, 2, 4]],
    op: ([a, b]) => ops.permute(ops.slice(ops.concat([a, b], 1), 1, 1, 4), [2, 0, 1]),
  },
  { name: "upsampleNearest2x", shapes: [[1, 2, 3, 2]], op: ([x]) => ops.upsampleNearest2x(x) },
  {
    // The offset keeps every value of these inputs more than the finite-difference step away from the kink.
    name: "leakyRelu and relu",
    shapes: [[24]],
    op: ([x]) => {
      const shifted = ops.affine(x, 1, 0.1);
      return ops.add(ops.leakyRelu(shifted, 0.2), ops.relu(shifted), 1, 0.5);
    },
  },
  {
    name: "maxPool2d 2×2 and 3×3 stride 2 padding 1",
    shapes: [[2, 2, 7, 6]],
    op: ([x]) => ops.maxPool2d(ops.maxPool2d(x, { kernel: 2 }), { kernel: 3, stride: 2, padding: 1 }),
  },
  {
    name: "batchNorm",
    shapes: [[3, 4, 2, 3], [4], [4]],
    op: ([x, g, b]) => ops.batchNorm(x, g, b, 1e-5),
  },
];

for (const c of CASES) {
  Deno.test(`${c.name} backward matches finite differences`, () => {
    const inputs = hostInputs(c.shapes, 11);
    const out = c.op(inputs);
    const w = randomValues(out.size, 5);
    const grads = analytic(c.op, inputs, w);
    const h = 1e-2;
    for (const [i, input] of inputs.entries()) {
      if (c.skip?.includes(i)) continue;
      const g = grads[i];
      const scale = Math.max(...g.map(Math.abs), 1e-3);
      const step = Math.max(1, Math.floor(input.size / 10));
      for (let e = 0; e < input.size; e += step) {
        const saved = input.data[e];
        input.data[e] = saved + h;
        const plus = objective(c.op, inputs, w);
        input.data[e] = saved - h;
        const minus = objective(c.op, inputs, w);
        input.data[e] = saved;
        const fd = (plus - minus) / (2 * h);
        assert.ok(
          Math.abs(fd - g[e]) <= 2e-3 * scale,
          `input ${i} element ${e}: analytic ${g[e]}, finite difference ${fd} (scale ${scale})`,
        );
      }
    }
  });
}

Deno.test("embedding backward sums rows by id", () => {
  const table = Tensor.host([5, 3], randomValues(15, 3));
  const ids = [4, 1, 4, 0, 4];
  const tape = new Tape();
  tape.watch(table);
  const y = tape.run(() => ops.embedding(ids, table));
  const w = randomValues(y.size, 9);
  const grads = tape.backward(y, Tensor.host(y.shape, w.slice()));
  const g = grads.get(table)!.data;
  const expected = new Float64Array(15);
  for (const [i, id] of ids.entries()) for (let j = 0; j < 3; j++) expected[id * 3 + j] += w[i * 3 + j];
  for (let k = 0; k < 15; k++) {
    assert.ok(Math.abs(g[k] - expected[k]) <= 1e-6, `row ${Math.floor(k / 3)}: ${g[k]} vs ${expected[k]}`);
  }
  assert.deepEqual(Array.from(g.subarray(6, 9)), [0, 0, 0], "an id that does not occur gets zero");
});

Deno.test("GPU backward kernels match the host references", async () => {
  const gpu = await getGpu();
  const cases = [...CASES, {
    name: "embedding",
    shapes: [[6, 4]],
    op: ([t]: Tensor[]) => ops.embedding([5, 1, 5, 0], t),
  }];
  for (const c of cases) {
    const host = hostInputs(c.shapes, 23);
    const out = c.op(host);
    const w = randomValues(out.size, 31);
    const expected = analytic(c.op, host, w);

    const device = host.map((t) => Tensor.from(gpu, t.shape, t.data));
    const tape = new Tape();
    tape.watch(...device);
    const y = tape.run(() => c.op(device));
    const grads = tape.backward(y, Tensor.from(gpu, y.shape, w));
    for (const [i, t] of device.entries()) {
      const g = grads.get(t);
      assert.ok(g, `${c.name}: no gradient for input ${i}`);
      const error = relativeError(await g.read(), expected[i]);
      assert.ok(
        error <= 1e-5,
        `${c.name}: input ${i} differs from the host reference by ${error.toExponential(2)} of scale`,
      );
    }
    tape.release();
  }
});

Deno.test("batchNorm normalises each channel over batch and positions", () => {
  const [N, C, H, W] = [3, 2, 2, 2];
  const x = Tensor.host([N, C, H, W], randomValues(N * C * H * W, 41));
  const gamma = Tensor.host([C], Float32Array.of(2, 0.5));
  const beta = Tensor.host([C], Float32Array.of(-1, 0.25));
  const y = ops.batchNorm(x, gamma, beta, 1e-5);
  for (let c = 0; c < C; c++) {
    const values: number[] = [];
    for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) values.push(x.data[(n * C + c) * H * W + i]);
    const mean = values.reduce((a, v) => a + v, 0) / values.length;
    const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
    for (let n = 0; n < N; n++) {
      for (let i = 0; i < H * W; i++) {
        const at = (n * C + c) * H * W + i;
        const expected = (x.data[at] - mean) / Math.sqrt(variance + 1e-5) * gamma.data[c] + beta.data[c];
        assert.ok(Math.abs(y.data[at] - expected) < 1e-5, `channel ${c}: ${y.data[at]} against ${expected}`);
      }
    }
  }
});

Deno.test("maxPool2d backward sends a tied window's gradient to its first maximum only", () => {
  const x = Tensor.host([1, 1, 2, 2], Float32Array.of(1, 1, 0, 1));
  const dy = Tensor.host([1, 1, 1, 1], Float32Array.of(3));
  const tape = new Tape();
  tape.watch(x);
  const y = tape.run(() => ops.maxPool2d(x, { kernel: 2 }));
  const grads = tape.backward(y, dy);
  assert.deepEqual(Array.from(grads.get(x)!.data), [3, 0, 0, 0]);
  tape.release();
});
