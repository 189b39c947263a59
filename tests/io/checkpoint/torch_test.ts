import assert from "node:assert/strict";
import { loadTorchCheckpoint } from "../../../io/checkpoint/torch.ts";
import { PickleObject } from "../../../io/checkpoint/pickle.ts";
import { CheffError } from "../../../io/errors.ts";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { kitTest, referencePath } from "../../kit.ts";
import { makeTorchZip, makeZip, PickleWriter } from "./helpers.ts";

async function rejectsWithOneLine(promise: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CheffError, `expected a CheffError, got ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes("\n"), `not one line: ${error.message}`);
    return true;
  });
}

function sameValues(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>, name: string) {
  assert.equal(actual.length, expected.length, `${name}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Object.is(actual[i], expected[i]), `${name}[${i}]: ${actual[i]} != ${expected[i]}`);
  }
}

Deno.test("a torch zip is found by its data.pkl whatever its top folder is called", async () => {
  const bytes = makeTorchZip("my_model_v2", [{ name: "w", values: [1, 2, 3, 4, 5, 6], shape: [2, 3] }]);
  const { tree, tensors, format } = await loadTorchCheckpoint(bytes, "my_model_v2.pt");
  assert.equal(format, "torch-zip");
  const w = tensors.get("w")!;
  assert.equal(w, (tree as Record<string, unknown>).w);
  assert.deepEqual([w.dtype, w.shape, [...w.data]], ["F32", [2, 3], [1, 2, 3, 4, 5, 6]]);
});

Deno.test("views with offsets and strides are materialised contiguous, from deflated entries too", async () => {
  const base = Array.from({ length: 12 }, (_, i) => i);
  for (const deflate of [false, true]) {
    const bytes = makeTorchZip("v", [
      { name: "transposed", values: base, shape: [4, 3], stride: [1, 4] },
      { name: "row", values: base, shape: [4], offset: 4 },
      { name: "every_other", values: base, shape: [2, 3], stride: [6, 2], offset: 1 },
      { name: "broadcast", values: base, shape: [2, 2], stride: [0, 1], offset: 10 },
      { name: "scalar", values: base, shape: [], stride: [], offset: 7 },
    ], { deflate });
    const { tensors } = await loadTorchCheckpoint(bytes, "views.pt");
    assert.deepEqual([...tensors.get("transposed")!.data], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    assert.deepEqual([...tensors.get("row")!.data], [4, 5, 6, 7]);
    assert.deepEqual([...tensors.get("every_other")!.data], [1, 3, 5, 7, 9, 11]);
    assert.deepEqual([...tensors.get("broadcast")!.data], [10, 11, 10, 11]);
    assert.deepEqual([tensors.get("scalar")!.shape, [...tensors.get("scalar")!.data]], [[], [7]]);
  }
});

Deno.test("a view reaching past its storage is refused", async () => {
  const bytes = makeTorchZip("bad", [{ name: "w", values: [1, 2, 3], shape: [2, 2] }]);
  await rejectsWithOneLine(loadTorchCheckpoint(bytes, "bad.pt"), /reaches past its storage/);
});

Deno.test("a checkpoint calling os.system loads with the call as an inert placeholder", async () => {
  const pickle = new PickleWriter().emptyDict().str("weights").emptyDict().setitem()
    .str("payload").global("os", "system").str("echo pwned").op(0x85).reduce().setitem().stop();
  const bytes = makeZip([{ name: "evil/data.pkl", data: pickle }, {
    name: "evil/version",
    data: new TextEncoder().encode("3\n"),
  }]);
  const { tree } = await loadTorchCheckpoint(bytes, "evil.pt");
  const payload = (tree as Record<string, unknown>).payload;
  assert.ok(payload instanceof PickleObject);
  assert.equal(payload.type, "os.system");
  assert.deepEqual(payload.args, ["echo pwned"]);
});

Deno.test("lists nested 100,000 deep are refused in one line, not a stack overflow", async () => {
  const depth = 100_000;
  const pickle = new PickleWriter().raw(new Array(depth).fill(0x5d)).raw(new Array(depth - 1).fill(0x61))
    .stop();
  const bytes = makeZip([{ name: "deep/data.pkl", data: pickle }]);
  await rejectsWithOneLine(loadTorchCheckpoint(bytes, "deep.pt"), /nested more than 1000 deep/);
});

Deno.test("a zip bomb posing as a checkpoint is refused", async () => {
  const bytes = makeZip([
    { name: "bomb/data.pkl", data: new PickleWriter().emptyDict().stop() },
    { name: "bomb/data/0", data: new Uint8Array(5_000_000), deflate: true },
  ]);
  await rejectsWithOneLine(loadTorchCheckpoint(bytes, "bomb.pt"), /zip bomb/);
});

Deno.test("files that are not checkpoints are named as such", async () => {
  await rejectsWithOneLine(
    loadTorchCheckpoint(new TextEncoder().encode("hello world"), "x.pt"),
    /not a PyTorch checkpoint/,
  );
  await rejectsWithOneLine(loadTorchCheckpoint(new Uint8Array(0), "empty.pt"), /empty file/);
  await rejectsWithOneLine(
    loadTorchCheckpoint(new PickleWriter().int(3).stop(), "plain.pkl"),
    /plain pickle/,
  );
  const noPickle = makeZip([{ name: "a/other", data: new Uint8Array(3) }]);
  await rejectsWithOneLine(loadTorchCheckpoint(noPickle, "a.zip"), /data\.pkl/);
  const missing = makeZip([{ name: "m/data.pkl", data: makeTorchPickleOnly() }]);
  await rejectsWithOneLine(loadTorchCheckpoint(missing, "m.pt"), /storage m\/data\/0 is missing/);
});

/** The data.pkl of a one-tensor checkpoint, without its storage entry. */
function makeTorchPickleOnly(): Uint8Array {
  const zip = makeTorchZip("m", [{ name: "w", values: [1], shape: [1] }]);
  // The pickle is the first entry, stored: find it after its 30-byte header and name.
  const view = new DataView(zip.buffer);
  const size = view.getUint32(18, true);
  const nameLength = view.getUint16(26, true);
  return zip.slice(30 + nameLength, 30 + nameLength + size);
}

const EXPECTED = referencePath("pickle_formats_expected.safetensors");

for (const file of ["zip_format.pt", "legacy_format.pt"]) {
  kitTest(`${file} reads every tensor exactly as pickle_formats_expected.safetensors`, [
    referencePath(file),
    EXPECTED,
  ], async () => {
    const expected = parseSafetensors(await Deno.readFile(EXPECTED), EXPECTED);
    const dtypes = JSON.parse(expected.metadata.dtypes) as Record<string, string>;
    const torchName: Record<string, string> = {
      F32: "float32",
      F16: "float16",
      BF16: "bfloat16",
      F64: "float64",
      I64: "int64",
      I32: "int32",
      U8: "uint8",
      BOOL: "bool",
    };
    const { tensors, format, tree } = await loadTorchCheckpoint(referencePath(file));
    assert.equal(format, file.startsWith("zip") ? "torch-zip" : "torch-legacy");
    assert.deepEqual([...tensors.keys()].sort(), [...expected.tensors.keys()].sort());
    for (const [name, want] of expected.tensors) {
      const got = tensors.get(name)!;
      assert.deepEqual(got.shape, want.shape, name);
      sameValues(got.data, want.data, name);
      if (dtypes[name]) assert.equal(torchName[got.dtype], dtypes[name], `${name} dtype`);
    }
    // Non-tensor parts of the nested containers survive as data.
    const nested = (tree as Record<string, Record<string, unknown[]>>).nested;
    assert.deepEqual(nested.list.slice(1), [5, "text"]);
    assert.equal(nested.tuple[0], 1.5);
  });
}

const FILES: [string, string, number][] = [
  ["ae.pt", "state_dict", 234],
  ["ldm_uncond.pt", "state_dict", 698],
  ["ldm_t2i.pt", "state_dict", 1130],
  ["sr.pt", "model", 226],
];

for (const [file, root, count] of FILES) {
  kitTest(`${file} loads with ${count} tensors under ${root}`, [referencePath(file)], async () => {
    const started = performance.now();
    const { tree, tensors } = await loadTorchCheckpoint(referencePath(file));
    const seconds = (performance.now() - started) / 1000;
    const weights = (tree as Record<string, Record<string, unknown>>)[root];
    assert.equal(Object.keys(weights).length, count);
    assert.equal([...tensors.keys()].filter((k) => k.startsWith(`${root}.`)).length, count);
    assert.ok(seconds < 3, `${file} took ${seconds.toFixed(2)} s`);
  });
}

kitTest("ldm_uncond.pt's optimizer state, callbacks and omegaconf config load as data", [
  referencePath("ldm_uncond.pt"),
], async () => {
  const { tree, tensors } = await loadTorchCheckpoint(referencePath("ldm_uncond.pt"));
  const t = tree as Record<string, any>;
  assert.deepEqual(Object.keys(t), [
    "epoch",
    "global_step",
    "pytorch-lightning_version",
    "state_dict",
    "loops",
    "callbacks",
    "optimizer_states",
    "lr_schedulers",
    "hyper_parameters",
  ]);
  assert.equal(t.global_step, 4);
  const adam = t.optimizer_states[0];
  assert.equal(Object.keys(adam.state).length, 240);
  assert.deepEqual(adam.param_groups[0].betas, [0.9, 0.999]);
  assert.deepEqual([...tensors.get("optimizer_states.0.state.0.step")!.data], [4]);
  assert.deepEqual(
    tensors.get("optimizer_states.0.state.0.exp_avg")!.shape,
    tensors.get("state_dict.model.diffusion_model.time_embed.0.weight")!.shape,
  );
  assert.ok(t.hyper_parameters instanceof PickleObject);
  assert.equal(t.hyper_parameters.type, "omegaconf.dictconfig.DictConfig");
  assert.deepEqual(t.lr_schedulers, []);
});

kitTest(
  "a truncated .pt gives one clear line",
  [referencePath("ae.pt"), referencePath("legacy_format.pt")],
  async () => {
    const ae = await Deno.readFile(referencePath("ae.pt"));
    for (const cut of [100, ae.length / 2, ae.length - 10]) {
      await rejectsWithOneLine(
        loadTorchCheckpoint(ae.subarray(0, Math.floor(cut)), "ae.pt"),
        /^ae\.pt: .*truncated/,
      );
    }
    const legacy = await Deno.readFile(referencePath("legacy_format.pt"));
    for (const cut of [20, 300, legacy.length - 5]) {
      await rejectsWithOneLine(
        loadTorchCheckpoint(legacy.subarray(0, cut), "legacy.pt"),
        /^legacy\.pt: .*(truncated|incomplete)/,
      );
    }
  },
);
