/**
 * The report encoder against the reference kit's small random-weight model: the
 * context of two tokenized reports, on the GPU and on the host reference path,
 * and the loader's handling of the unused output layer.
 */
import assert from "node:assert/strict";
import { getGpu } from "../../../gpu/device.ts";
import { CheffError } from "../../../io/errors.ts";
import { type HostTensor, parseSafetensors } from "../../../io/safetensors.ts";
import { readModelFile } from "../../../stages/load.ts";
import { parseTextEncoderConfig } from "../../../stages/text/config.ts";
import { textEncoderParameters } from "../../../stages/text/encoder.ts";
import { loadTextEncoder } from "../../../stages/text/load.ts";
import { relativeError } from "../../kernels/helpers.ts";
import { kitTest, referencePath } from "../../kit.ts";

const T2I = referencePath("ldm_t2i.pt");
const T2I_IO = referencePath("ldm_t2i_io.safetensors");
const UNCOND = referencePath("ldm_uncond.pt");

/** Float32 reaches below 1e-6 of scale here, on the GPU (lavapipe) and on the host. */
const TOLERANCE = 1e-5;

function readIo(): Map<string, HostTensor> {
  return parseSafetensors(Deno.readFileSync(T2I_IO), T2I_IO).tensors;
}

function tokenIds(io: Map<string, HostTensor>): Int32Array {
  return Int32Array.from(io.get("tokens")!.data as ArrayLike<number | bigint>, Number);
}

kitTest("text encoder reproduces the reference context on the GPU", [T2I, T2I_IO], async () => {
  const io = readIo();
  const notes: string[] = [];
  const { model, configSource } = await loadTextEncoder(await getGpu(), T2I, {
    note: (line) => notes.push(line),
  });
  assert.equal(configSource, "file");
  const context = model.context(tokenIds(io), 2);
  const expected = io.get("context")!;
  assert.deepEqual(context.shape, expected.shape);
  const error = relativeError(await context.read(), expected.data as Float32Array);
  console.log(`context: max error ${error.toExponential(2)} of scale`);
  context.release();
  model.release();
  assert.ok(error <= TOLERANCE, `error ${error} of scale`);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /not part of the text encoder \(2 unused to_logits, /);
});

kitTest("text encoder host reference path reproduces the context", [T2I, T2I_IO], async () => {
  const io = readIo();
  const { model } = await loadTextEncoder(undefined, T2I);
  const context = model.context(tokenIds(io), 2);
  const error = relativeError(context.data, io.get("context")!.data as Float32Array);
  console.log(`context (host): max error ${error.toExponential(2)} of scale`);
  assert.ok(error <= TOLERANCE, `error ${error} of scale`);
});

kitTest("text encoder attends to padding tokens", [T2I, T2I_IO], async () => {
  // Without a padding mask, changing the padding length changes the first token's vector.
  const io = readIo();
  const { model } = await loadTextEncoder(undefined, T2I);
  const ids = tokenIds(io).slice(0, 150);
  const full = model.context(ids, 1);
  const short = model.context(ids.slice(0, 40), 1);
  const width = full.shape[2];
  const first = full.data.slice(0, width);
  const firstShort = short.data.slice(0, width);
  assert.ok(first.some((v, i) => Math.abs(v - firstShort[i]) > 1e-6), "the first token ignores the padding");
});

kitTest("text encoder rejects token ids it cannot embed", [T2I], async () => {
  const { model } = await loadTextEncoder(undefined, T2I);
  assert.throws(
    () => model.context(new Int32Array([101, 30522, 102]), 1),
    (e: Error) => e instanceof CheffError && /token id 30522 at position 1/.test(e.message),
  );
  assert.throws(
    () => model.context(new Int32Array(151), 1),
    (e: Error) =>
      e instanceof CheffError && /151 tokens per report exceed the model's 150 positions/.test(e.message),
  );
  assert.throws(
    () => model.context(new Int32Array(7), 2),
    (e: Error) => e instanceof CheffError && /do not split into 2 reports/.test(e.message),
  );
});

kitTest("text encoder loader rejects an unconditional checkpoint", [UNCOND], async () => {
  await assert.rejects(
    loadTextEncoder(undefined, UNCOND),
    (e: Error) => e instanceof CheffError && /contains no text encoder/.test(e.message),
  );
});

kitTest("text encoder reports missing and misshapen keys together", [T2I], async () => {
  const file = await readModelFile(T2I);
  const state = new Map(file.state);
  state.delete("cond_stage_model.transformer.norm.bias");
  state.set("cond_stage_model.transformer.pos_emb.emb.weight", {
    dtype: "F32",
    shape: [77, 4],
    data: new Float32Array(308),
  });
  await assert.rejects(loadTextEncoder(undefined, { ...file, state }), (e: Error) => {
    assert.ok(e instanceof CheffError);
    assert.match(e.message, /1 missing \(cond_stage_model\.transformer\.norm\.bias\)/);
    assert.match(e.message, /1 misshapen \(cond_stage_model\.transformer\.pos_emb\.emb\.weight \[77,4\]/);
    return true;
  });
});

Deno.test("text encoder attention is 8 heads of 64 whatever the width", () => {
  const config = parseTextEncoderConfig({ n_embed: 4, n_layer: 1 }, "small");
  const shapes = textEncoderParameters(config).shapes;
  assert.deepEqual(shapes.get("attn_layers.layers.0.1.to_q.weight"), [512, 4]);
  assert.deepEqual(shapes.get("attn_layers.layers.0.1.to_out.weight"), [4, 512]);
  assert.deepEqual(shapes.get("attn_layers.layers.1.1.net.0.0.weight"), [16, 4]);
  assert.equal(shapes.has("to_logits.weight"), false);
});
