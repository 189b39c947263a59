import assert from "node:assert/strict";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { CheffError } from "../../../io/errors.ts";
import {
  boxMuller,
  normals,
  philox4x32,
  philoxKernelParams,
  philoxWords,
  philoxWorkgroups,
  seedKey,
  STAGE,
  STREAM,
  uniformInts,
  wordToUniform,
} from "../../../stages/noise/philox.ts";
import { kitTest, referencePath } from "../../kit.ts";

const NOISE = referencePath("noise_philox.safetensors");

interface KnownAnswer {
  counter: number[];
  key: number[];
  output: number[];
}

interface ReferenceCase {
  name: string;
  seed: number;
  slot: number;
  stream: number;
  shape: number[];
}

function loadReference() {
  const file = parseSafetensors(Deno.readFileSync(NOISE), "noise_philox.safetensors");
  return {
    tensors: file.tensors,
    cases: JSON.parse(file.metadata.cases) as ReferenceCase[],
    knownAnswers: JSON.parse(file.metadata.philox_known_answers) as KnownAnswer[],
  };
}

Deno.test("philox4x32 gives the Random123 known answers", () => {
  // Philox4x32-10 test vectors of the Random123 library (kat_vectors).
  assert.deepEqual(philox4x32([0, 0, 0, 0], [0, 0]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  assert.deepEqual(
    philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]),
    [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  );
  assert.deepEqual(
    philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
    [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  );
});

kitTest("philox4x32 matches the reference file's known answers", [NOISE], () => {
  const { knownAnswers } = loadReference();
  assert.equal(knownAnswers.length, 3);
  for (const { counter, key, output } of knownAnswers) assert.deepEqual(philox4x32(counter, key), output);
});

kitTest("philox words match the reference exactly", [NOISE], () => {
  const { tensors, cases } = loadReference();
  assert.equal(cases.length, 6);
  for (const c of cases) {
    const count = c.shape.reduce((a, b) => a * b, 1);
    const words = philoxWords(BigInt(c.seed), count, { slot: c.slot, stream: c.stream, stage: 0 });
    const expected = tensors.get(`${c.name}.words`)!.data as BigInt64Array;
    assert.equal(words.length, expected.length);
    for (let i = 0; i < count; i++) {
      assert.equal(BigInt(words[i]), expected[i], `case ${c.name}, element ${i}`);
    }
  }
});

kitTest("philox normals within 1e-5 of the reference", [NOISE], () => {
  const { tensors, cases } = loadReference();
  for (const c of cases) {
    const count = c.shape.reduce((a, b) => a * b, 1);
    const z = normals(c.seed, count, { slot: c.slot, stream: c.stream, stage: 0 });
    const expected = tensors.get(`${c.name}.normals`)!.data as Float32Array;
    assert.equal(z.length, expected.length);
    for (let i = 0; i < count; i++) {
      assert.ok(
        Math.abs(z[i] - expected[i]) <= 1e-5,
        `case ${c.name}, element ${i}: ${z[i]} vs ${expected[i]}`,
      );
    }
  }
});

Deno.test("seedKey splits the seed low word first", () => {
  assert.deepEqual(seedKey(0), [0, 0]);
  assert.deepEqual(seedKey(4294967301), [5, 1]);
  assert.deepEqual(seedKey(4294967301n), [5, 1]);
  assert.deepEqual(seedKey(0xffffffffffffffffn), [0xffffffff, 0xffffffff]);
  assert.deepEqual(seedKey(Number.MAX_SAFE_INTEGER), [0xffffffff, 0x1fffff]);
});

Deno.test("seedKey rejects seeds outside 0 to 2^64 − 1", () => {
  for (const seed of [-1, 1.5, NaN, 2 ** 53, -1n, 1n << 64n]) {
    assert.throws(() => seedKey(seed), CheffError, `seed ${seed}`);
  }
});

Deno.test("normals reject invalid counts and addresses", () => {
  const address = { slot: 0, stream: STREAM.xT, stage: STAGE.latent };
  assert.throws(() => normals(1, -1, address), /element count -1/);
  assert.throws(() => normals(1, 2.5, address), CheffError);
  assert.throws(() => normals(1, 4, { ...address, slot: -1 }), /noise slot -1/);
  assert.throws(() => normals(1, 4, { ...address, stream: 2 ** 32 }), /noise stream/);
  assert.throws(() => philoxWords(1, 4, { ...address, stage: 0.5 }), /noise stage/);
  assert.equal(normals(1, 0, address).length, 0);
});

Deno.test("normals of a prefix equal the prefix of normals", () => {
  const address = { slot: 4, stream: STREAM.step, stage: STAGE.latent };
  const whole = normals(123, 40, address);
  for (const count of [1, 2, 3, 5, 10, 39]) {
    assert.deepEqual(normals(123, count, address), whole.subarray(0, count));
  }
});

Deno.test("normals differ by seed, slot, stream and stage", () => {
  const base = { slot: 0, stream: STREAM.xT, stage: STAGE.latent };
  const reference = normals(5, 16, base);
  const variants = [
    normals(6, 16, base),
    normals(5 + 2 ** 32, 16, base),
    normals(5, 16, { ...base, slot: 1 }),
    normals(5, 16, { ...base, stream: STREAM.step }),
    normals(5, 16, { ...base, stage: STAGE.superResolution }),
  ];
  for (const variant of variants) assert.notDeepEqual(variant, reference);
});

Deno.test("normals have zero mean and unit variance", () => {
  const count = 1 << 18;
  const z = normals(2024, count, { slot: 0, stream: STREAM.xT, stage: STAGE.autoencoder });
  let sum = 0;
  let squares = 0;
  let tail = 0;
  for (const v of z) {
    sum += v;
    squares += v * v;
    if (Math.abs(v) > 1.959964) tail++;
  }
  const mean = sum / count;
  const variance = squares / count - mean * mean;
  // Standard errors: 1/√n = 0.002 for the mean, √(2/n) = 0.0028 for the variance.
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.015, `variance ${variance}`);
  assert.ok(Math.abs(tail / count - 0.05) < 0.003, `P(|z| > 1.96) = ${tail / count}`);
});

Deno.test("wordToUniform maps words into the open unit interval", () => {
  assert.equal(wordToUniform(0), 0.5 / 2 ** 24);
  assert.equal(wordToUniform(0xff), 0.5 / 2 ** 24);
  assert.equal(wordToUniform(0xffffffff), 1 - 0.5 / 2 ** 24);
  assert.equal(wordToUniform(0x80000000), 0.5 + 0.5 / 2 ** 24);
});

Deno.test("boxMuller follows the documented pairing", () => {
  const words = [0x12345678, 0x9abcdef0, 0x0fedcba9, 0x87654321];
  const z = boxMuller(words);
  const u = words.map(wordToUniform);
  const r01 = Math.sqrt(-2 * Math.log(u[0]));
  const r23 = Math.sqrt(-2 * Math.log(u[2]));
  const expected = [
    r01 * Math.cos(2 * Math.PI * u[1]),
    r01 * Math.sin(2 * Math.PI * u[1]),
    r23 * Math.cos(2 * Math.PI * u[3]),
    r23 * Math.sin(2 * Math.PI * u[3]),
  ];
  for (let j = 0; j < 4; j++) assert.ok(Math.abs(z[j] - expected[j]) < 1e-12, `z${j}`);
});

Deno.test("uniformInts takes floor(w · bound / 2^32) of each word", () => {
  const address = { slot: 17, stream: STREAM.timestep, stage: STAGE.latent };
  const count = 4096;
  for (const bound of [1, 2, 1000, 2000, 2 ** 31]) {
    const values = uniformInts(77, count, bound, address);
    const words = philoxWords(77, count, address);
    for (let i = 0; i < count; i++) {
      const expected = Number((BigInt(words[i]) * BigInt(bound)) >> 32n);
      assert.equal(values[i], expected, `bound ${bound}, element ${i}`);
    }
  }
});

Deno.test("uniformInts covers [0, bound)", () => {
  const values = uniformInts(1, 100_000, 1000, { slot: 0, stream: STREAM.timestep, stage: STAGE.latent });
  const seen = new Set(values);
  assert.equal(seen.size, 1000);
  assert.equal(Math.min(...values), 0);
  assert.equal(Math.max(...values), 999);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(mean - 499.5) < 3, `mean ${mean}`);
});

Deno.test("uniformInts rejects an invalid bound", () => {
  const address = { slot: 0, stream: STREAM.timestep, stage: STAGE.latent };
  for (const bound of [0, -5, 1.5, 2 ** 31 + 1]) {
    assert.throws(() => uniformInts(1, 4, bound, address), /bound/);
  }
});

Deno.test("philoxKernelParams lays out the uniform block", () => {
  const params = philoxKernelParams(0x0000000700000005n, 100, { slot: 9, stream: 1, stage: 2 }, 6);
  assert.deepEqual(Array.from(params), [5, 7, 9, 1, 2, 100, 6, 0]);
  assert.throws(() => philoxKernelParams(1, 2 ** 32, { slot: 0, stream: 0, stage: 0 }), /below 2\^32/);
});

Deno.test("philoxWorkgroups covers every block touched", () => {
  assert.deepEqual(philoxWorkgroups(0), [0, 0]);
  assert.deepEqual(philoxWorkgroups(1), [1, 1]);
  assert.deepEqual(philoxWorkgroups(256), [1, 1]);
  assert.deepEqual(philoxWorkgroups(257), [2, 1]);
  assert.deepEqual(philoxWorkgroups(256, 1), [2, 1]);
  assert.deepEqual(philoxWorkgroups(1024 * 1024 * 3), [12288, 1]);
  const [x, y] = philoxWorkgroups(64 * 4 * 65535 * 3, 0, 65535);
  assert.ok(x <= 65535, `x = ${x}`);
  assert.ok(x * y * 64 * 4 >= 64 * 4 * 65535 * 3, `${x} × ${y} workgroups`);
  assert.equal(y, 3);
});
