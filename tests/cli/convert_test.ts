import assert from "node:assert/strict";
import { join } from "node:path";
import { convertCommand, convertFile } from "../../cli/convert.ts";
import { loadWeights, stateDict } from "../../io/checkpoint/load.ts";
import { CheffError } from "../../io/errors.ts";
import { parseSafetensors } from "../../io/safetensors.ts";
import { kitTest, referencePath } from "../kit.ts";
import { makeTorchZip } from "../io/checkpoint/helpers.ts";

async function withTempDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function sameValues(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>, name: string) {
  assert.equal(actual.length, expected.length, `${name}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${name}[${i}]: ${actual[i]} != ${expected[i]}`);
  }
}

Deno.test("convert refuses to overwrite, and replaces with --overwrite atomically", async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, "m.pt");
    await Deno.writeFile(input, makeTorchZip("m", [{ name: "w", values: [1, 2], shape: [2] }]));
    const out = join(dir, "m.safetensors");
    await Deno.writeTextFile(out, "keep me");
    await assert.rejects(
      convertFile(input, { out }),
      (e: unknown) => e instanceof CheffError && /already exists/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(out), "keep me");
    await assert.rejects(convertFile(input, { out, overwrite: true, preset: "cheff-sr" }), /does not fit the weights|describes no stage/);
    assert.equal(await Deno.readTextFile(out), "keep me");
    const result = await convertFile(input, { out, overwrite: true });
    assert.deepEqual(result, { tensors: 1, parameters: 2, configFrom: undefined });
    const file = parseSafetensors(await Deno.readFile(out));
    assert.deepEqual([...file.tensors.get("w")!.data], [1, 2]);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
      "m.pt",
      "m.safetensors",
    ]);
  });
});

Deno.test("convert takes --config from a JSON file and rejects bad option combinations", async () => {
  await withTempDir(async (dir) => {
    const input = join(dir, "m.pt");
    await Deno.writeFile(input, makeTorchZip("m", [{ name: "w", values: [3], shape: [1] }]));
    const config = join(dir, "c.json");
    await Deno.writeTextFile(config, JSON.stringify({ embed_dim: 3, ddconfig: { ch: 4 } }));
    // A config that does not describe the file's weights is refused, and nothing is written.
    await assert.rejects(convertFile(input, { out: join(dir, "a.safetensors"), config }), CheffError);
    await assert.rejects(Deno.stat(join(dir, "a.safetensors")), Deno.errors.NotFound);
    await assert.rejects(convertFile(input, { out: join(dir, "a.bin") }), /ending in \.safetensors/);
    await assert.rejects(
      convertFile(input, { out: join(dir, "b.safetensors"), config, preset: "cheff-ae" }),
      /not both/,
    );
    await assert.rejects(
      convertFile(input, { out: join(dir, "b.safetensors"), preset: "nope" }),
      /unknown preset 'nope', expected one of cheff-ae/,
    );
    await Deno.writeTextFile(config, "{broken");
    await assert.rejects(convertFile(input, { out: join(dir, "b.safetensors"), config }), /not valid JSON/);
    await assert.rejects(convertCommand.run([input]), /--out FILE.safetensors is required/);
    // Without a config none is recorded.
    await convertFile(input, { out: join(dir, "n.safetensors") });
    assert.equal(
      parseSafetensors(await Deno.readFile(join(dir, "n.safetensors"))).metadata["cheff.config"],
      undefined,
    );
  });
  assert.match(convertCommand.help, /Example:\n\s+cheff convert /);
});

kitTest("convert ae.pt writes every state-dict tensor unchanged under its original name", [
  referencePath("ae.pt"),
  referencePath("ae_io.safetensors"),
], async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "ae.safetensors");
    const lines: string[] = [];
    // The small reference autoencoder is not the released size, so the cheff-ae preset does not fit it.
    await assert.rejects(convertFile(referencePath("ae.pt"), { out, preset: "cheff-ae" }), /does not fit the weights/);
    const smallConfig = JSON.parse(parseSafetensors(await Deno.readFile(referencePath("ae_io.safetensors"))).metadata.config);
    const config = join(dir, "ae.json");
    await Deno.writeTextFile(config, JSON.stringify(smallConfig));
    await convertFile(referencePath("ae.pt"), { out, config, log: (l) => lines.push(l) });
    assert.equal(lines.length, 1);
    const original = stateDict(await loadWeights(referencePath("ae.pt")));
    const converted = parseSafetensors(await Deno.readFile(out), out);
    assert.deepEqual([...converted.tensors.keys()], [...original.keys()]);
    for (const [key, want] of original) {
      const got = converted.tensors.get(key)!;
      assert.deepEqual(got.shape, want.shape, key);
      assert.equal(got.dtype, want.dtype, key); // F32, and I64 for num_batches_tracked
      sameValues(got.data, want.data, key);
    }
    assert.equal(converted.tensors.get("loss.discriminator.main.3.num_batches_tracked")!.dtype, "I64");
    assert.deepEqual(JSON.parse(converted.metadata["cheff.config"]), smallConfig);
    // The converted file loads through loadWeights with its config.
    const reloaded = await loadWeights(out);
    assert.deepEqual(reloaded.config, smallConfig);
  });
});

kitTest("convert widens float16, bfloat16 and float64 to float32 and keeps int64", [
  referencePath("zip_format.pt"),
  referencePath("pickle_formats_expected.safetensors"),
], async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "z.safetensors");
    await convertFile(referencePath("zip_format.pt"), { out });
    const file = parseSafetensors(await Deno.readFile(out));
    const expected = parseSafetensors(
      await Deno.readFile(referencePath("pickle_formats_expected.safetensors")),
    );
    const dtypes = Object.fromEntries([...file.tensors].map(([k, t]) => [k, t.dtype]));
    assert.deepEqual(
      [
        dtypes.f32,
        dtypes.f16,
        dtypes.bf16_as_f32_check,
        dtypes.f64,
        dtypes.i64,
        dtypes.i32,
        dtypes.u8,
        dtypes.bool,
      ],
      ["F32", "F32", "F32", "F32", "I64", "I32", "U8", "BOOL"],
    );
    for (const key of ["f16", "bf16_as_f32_check", "view_transposed", "scalar", "i64"]) {
      sameValues(file.tensors.get(key)!.data, expected.tensors.get(key)!.data, key);
    }
    // Only dicts are flattened into weights: tensors inside lists and tuples stay out.
    assert.ok(!file.tensors.has("nested.list.0"));
    sameValues(
      file.tensors.get("f64")!.data,
      Float32Array.from(expected.tensors.get("f64")!.data as Float64Array),
      "f64",
    );
  });
});

kitTest(
  "convert ldm_t2i.pt records its hyper_parameters as the config",
  [referencePath("ldm_t2i.pt")],
  async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, "t2i.safetensors");
      const result = await convertFile(referencePath("ldm_t2i.pt"), { out });
      assert.match(result.configFrom ?? "", /hyper_parameters/);
      assert.equal(result.tensors, 1130);
      const config = JSON.parse(parseSafetensors(await Deno.readFile(out)).metadata["cheff.config"]);
      assert.equal(config.scale_factor, 0.18215);
    });
  },
);
