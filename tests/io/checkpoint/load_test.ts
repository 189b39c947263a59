import assert from "node:assert/strict";
import { join } from "node:path";
import {
  loadWeights,
  pickleToData,
  sha256File,
  sha256Streamed,
  stateDict,
} from "../../../io/checkpoint/load.ts";
import { LoadedTensor } from "../../../io/checkpoint/tensors.ts";
import { CheffError } from "../../../io/errors.ts";
import { parseSafetensors, serializeSafetensors } from "../../../io/safetensors.ts";
import { kitTest, referencePath } from "../../kit.ts";
import { makeTorchZip } from "./helpers.ts";

const tensor = (shape: number[]) =>
  new LoadedTensor("F32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("stateDict takes state_dict, else model, else the top level, flattening nested dicts with dots", () => {
  const w = tensor([2]);
  const b = tensor([1]);
  const lightning = {
    tree: { epoch: 3, state_dict: { "encoder.w": w, nested: { deeper: { b } } }, model: { x: b } },
    format: "torch-zip" as const,
  };
  assert.deepEqual([...stateDict({ ...lightning, tensors: new Map() })], [["encoder.w", w], [
    "nested.deeper.b",
    b,
  ]]);
  const sr = {
    tree: { model: { "downs.0.weight": w }, optimizer: { state: {} }, steps: 10 },
    format: "torch-zip" as const,
  };
  assert.deepEqual([...stateDict({ ...sr, tensors: new Map() })], [["downs.0.weight", w]]);
  const bare = { tree: { "conv.weight": w, "conv.bias": b, version: 1 }, format: "torch-legacy" as const };
  assert.deepEqual([...stateDict({ ...bare, tensors: new Map() })], [["conv.weight", w], ["conv.bias", b]]);
  assert.throws(
    () => stateDict({ tree: [w], format: "torch-zip", tensors: new Map() }, "list.pt"),
    CheffError,
  );
});

Deno.test("loadWeights reads safetensors with its cheff.config, and torch zips by content, not name", async () => {
  await withTempDir(async (dir) => {
    const st = join(dir, "weights.bin");
    const config = { embed_dim: 3, ddconfig: { ch: 8 } };
    await Deno.writeFile(
      st,
      serializeSafetensors({ "a.weight": { shape: [2], data: new Float32Array([1, 2]) } }, {
        "cheff.config": JSON.stringify(config),
      }),
    );
    const loaded = await loadWeights(st);
    assert.equal(loaded.format, "safetensors");
    assert.deepEqual(loaded.config, config);
    assert.deepEqual([...stateDict(loaded).keys()], ["a.weight"]);

    const pt = join(dir, "model.safetensors"); // a misleading name: content decides
    await Deno.writeFile(pt, makeTorchZip("model", [{ name: "k", values: [5], shape: [1] }]));
    const torch = await loadWeights(pt);
    assert.equal(torch.format, "torch-zip");
    assert.deepEqual([...stateDict(torch).get("k")!.data], [5]);

    const junk = join(dir, "junk.pt");
    await Deno.writeFile(junk, new TextEncoder().encode("not a model"));
    await assert.rejects(loadWeights(junk), /not a model file/);
    await assert.rejects(loadWeights(join(dir, "absent.pt")), /file not found/);
  });
});

Deno.test("sha256File gives the standard digest", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "abc");
    await Deno.writeTextFile(path, "abc");
    assert.equal(await sha256File(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(
      await sha256Streamed(path),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    const big = join(dir, "big");
    await Deno.writeFile(big, Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 0xff));
    assert.equal(await sha256Streamed(big), await sha256File(big));
  });
});

for (
  const [pt, io] of [["ldm_uncond.pt", "ldm_uncond_io.safetensors"], ["ldm_t2i.pt", "ldm_t2i_io.safetensors"]]
) {
  kitTest(`${pt}'s hyper_parameters read as the ldm_config the reference ran`, [
    referencePath(pt),
    referencePath(io),
  ], async () => {
    const loaded = await loadWeights(referencePath(pt));
    const reference = JSON.parse(
      parseSafetensors(await Deno.readFile(referencePath(io))).metadata.ldm_config,
    );
    const config = loaded.config as any;
    // The stored config names the autoencoder's training checkpoint and a device; the io file's run had neither.
    assert.equal(config.first_stage_config.params.ckpt_path, "trained_models/cheff_autoencoder.pt");
    config.first_stage_config.params.ckpt_path = null;
    if (config.cond_stage_config?.params) delete config.cond_stage_config.params.device;
    assert.deepEqual(config, reference);
  });
}

kitTest(
  "every reference model file loads and yields its weights",
  ["ae.pt", "ldm_uncond.pt", "ldm_t2i.pt", "sr.pt"].map(referencePath),
  async () => {
    const counts: Record<string, number> = {
      "ae.pt": 234,
      "ldm_uncond.pt": 698,
      "ldm_t2i.pt": 1130,
      "sr.pt": 226,
    };
    for (const [file, count] of Object.entries(counts)) {
      const loaded = await loadWeights(referencePath(file));
      assert.equal(stateDict(loaded).size, count, file);
    }
  },
);

Deno.test("pickleToData cuts cycles instead of looping", () => {
  const a: Record<string, unknown> = { x: 1 };
  a.self = a;
  assert.deepEqual(pickleToData(a), { x: 1, self: "<cycle>" });
});
