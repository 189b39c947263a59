/**
 * The training data loader: index paths resolve against the index's folder,
 * each epoch is a seeded permutation, positions continue across epochs, an
 * exclusion list and the report requirement filter entries, and flips are off
 * unless asked for.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { epochOrder, TrainingData } from "../../train/data.ts";
import { writeTinyDataset } from "./helpers.ts";

Deno.test("epoch order is a seeded permutation", () => {
  const a = epochOrder(50, 3, 0);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(epochOrder(50, 3, 0), a, "same seed and epoch give the same order");
  assert.notDeepEqual(epochOrder(50, 3, 1), a, "the next epoch is shuffled anew");
  assert.notDeepEqual(epochOrder(50, 4, 0), a, "another seed gives another order");
});

Deno.test("training data batches follow the data position", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const index = await writeTinyDataset(folder);
    const data = await TrainingData.open({ index, size: 8, channels: 3, batchSize: 2, seed: 1 });
    assert.equal(data.samples.length, 3);
    assert.ok(data.samples[0].path.startsWith(folder), "paths resolve against the index's folder");

    const first = await data.batch(0);
    assert.deepEqual(first.shape, [2, 3, 8, 8]);
    assert.equal(first.position, 0);
    assert.ok(first.images.every((v) => v >= -1 && v <= 1));
    const epoch0 = [0, 1, 2].map((p) => data.sampleAt(p).id);
    assert.equal(new Set(epoch0).size, 3, "an epoch visits every sample once");

    // Position 2 starts in epoch 0 and runs into epoch 1; a fresh loader gives the same batch.
    const second = await data.batch(2);
    const again = await (await TrainingData.open({ index, size: 8, channels: 3, batchSize: 2, seed: 1 }))
      .batch(2);
    assert.deepEqual(again.samples.map((s) => s.id), second.samples.map((s) => s.id));
    assert.deepEqual(again.images, second.images);
    assert.equal(second.samples[0].id, epoch0[2]);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("flip mirrors images only when enabled", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const index = await writeTinyDataset(folder);
    const plain = await TrainingData.open({ index, size: 8, channels: 1, batchSize: 3, seed: 2 });
    const flipped = await TrainingData.open({
      index,
      size: 8,
      channels: 1,
      batchSize: 3,
      seed: 2,
      flip: true,
    });
    const a = await plain.batch(0);
    const b = await flipped.batch(0);
    let mirrored = 0;
    for (let n = 0; n < 3; n++) {
      const image = a.images.subarray(n * 64, (n + 1) * 64);
      const other = b.images.subarray(n * 64, (n + 1) * 64);
      const reversed = Float32Array.from(
        { length: 64 },
        (_, i) => image[Math.floor(i / 8) * 8 + 7 - (i % 8)],
      );
      if (other.every((v, i) => v === reversed[i])) mirrored++;
      else assert.deepEqual(other, image, "an unflipped image is unchanged");
    }
    assert.ok(mirrored >= 1, "at least one image is mirrored");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("exclusion list and report requirement filter entries", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const index = await writeTinyDataset(folder);
    const exclude = join(folder, "holdout.txt");
    await Deno.writeTextFile(exclude, "00/000001.png\n");
    const data = await TrainingData.open({ index, size: 8, channels: 3, batchSize: 1, seed: 0, exclude });
    assert.deepEqual(data.samples.map((s) => s.id), ["000000", "000002"]);
    await assert.rejects(
      TrainingData.open({ index, size: 8, channels: 3, batchSize: 1, seed: 0, requireReports: true }),
      (e: Error) => e instanceof CheffError && /no training samples/.test(e.message),
    );
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("synthetic index entries give one warning", async () => {
  const folder = await Deno.makeTempDir();
  try {
    const index = await writeTinyDataset(folder);
    const entries = JSON.parse(await Deno.readTextFile(index));
    entries["000001"].synthetic = true;
    entries["000002"].synthetic = true;
    await Deno.writeTextFile(index, JSON.stringify(entries));
    const warnings: string[] = [];
    const warn = (message: string) => warnings.push(message);
    const data = await TrainingData.open({ index, size: 8, channels: 1, batchSize: 1, seed: 0, warn });
    assert.equal(data.samples.length, 3, "synthetic entries are still used");
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /index\.json: 2 of 3 images are synthetic \(PNG text cheff:synthetic=true\)/);
    assert.ok(warnings[0].includes(join(folder, "00/000001.png")), warnings[0]);

    const excluded = join(folder, "holdout.txt");
    await Deno.writeTextFile(excluded, "00/000001.png\n00/000002.png\n");
    warnings.length = 0;
    await TrainingData.open({ index, size: 8, channels: 1, batchSize: 1, seed: 0, warn, exclude: excluded });
    assert.deepEqual(warnings, [], "excluded entries are not counted");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
