import assert from "node:assert/strict";
import { matchKeys } from "../../../io/checkpoint/keys.ts";
import { LoadedTensor } from "../../../io/checkpoint/tensors.ts";
import { CheffError } from "../../../io/errors.ts";
import type { HostTensor } from "../../../io/safetensors.ts";
import { kitTest, referencePath } from "../../kit.ts";

/** A tensor of the given shape without data (key matching looks at shapes only). */
const placeholder = (shape: number[]): HostTensor => new LoadedTensor("F32", shape, new Float32Array(0));

interface Manifest {
  state_dict: { key: string; shape: number[]; dtype: string }[];
}

async function manifest(name: string): Promise<Manifest> {
  return JSON.parse(await Deno.readTextFile(referencePath(`manifests/${name}.json`)));
}

function mismatch(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CheffError);
    return error.message;
  }
  assert.fail("expected a CheffError");
}

Deno.test("missing, unexpected and misshapen keys are reported together in one line", () => {
  const expected = new Map<string, number[]>([["a.weight", [4, 2]], ["a.bias", [4]], ["b.weight", [3]]]);
  const available = new Map([["a.weight", placeholder([2, 4])], ["b.weight", placeholder([3])], [
    "c.extra",
    placeholder([1]),
  ]]);
  const message = mismatch(() => matchKeys(expected, available, { source: "m.pt", stage: "test net" }));
  assert.match(message, /^m\.pt: the test net weights do not match/);
  assert.match(message, /1 missing \(a\.bias\)/);
  assert.match(message, /1 unexpected \(c\.extra\)/);
  assert.match(message, /1 misshapen \(a\.weight \[2,4\] in the file, \[4,2\] expected\)/);
  assert.ok(!message.includes("\n"));
});

Deno.test("long lists name a few keys and count the rest", () => {
  const expected = new Map(Array.from({ length: 10 }, (_, i) => [`k${i}`, [1]] as [string, number[]]));
  const message = mismatch(() => matchKeys(expected, new Map(), { source: "x", stage: "s" }));
  assert.match(message, /10 missing \(k0, k1, k2, k3 and 6 more\)/);
});

Deno.test("a prefix selects one stage's keys and leaves other stages' keys alone", () => {
  const w = placeholder([2]);
  const available = new Map([["first_stage_model.conv.weight", w], [
    "model.diffusion_model.x",
    placeholder([9]),
  ], ["betas", placeholder([1000])]]);
  const { tensors, ignored, summary } = matchKeys(new Map([["conv.weight", [2]]]), available, {
    prefix: "first_stage_model.",
    source: "ldm.pt",
    stage: "autoencoder",
  });
  assert.deepEqual([...tensors], [["conv.weight", w]]);
  assert.equal(ignored, 0);
  assert.equal(summary, undefined);
});

kitTest("the released autoencoder's keys all match except loss.*, which are counted in one line", [
  referencePath("manifests/cheff_autoencoder.json"),
], async () => {
  const { state_dict } = await manifest("cheff_autoencoder");
  const loss = state_dict.filter((e) => e.key.startsWith("loss."));
  const model = state_dict.filter((e) => !e.key.startsWith("loss."));
  const expected = new Map(model.map((e) => [e.key, e.shape]));
  const available = new Map(state_dict.map((e) => [e.key, placeholder(e.shape)]));
  const { tensors, ignored, summary } = matchKeys(expected, available, {
    ignorePrefixes: ["loss."],
    source: "cheff_autoencoder.pt",
    stage: "autoencoder",
  });
  assert.equal(tensors.size, model.length);
  assert.equal(ignored, loss.length);
  assert.ok(loss.length > 0);
  assert.equal(
    summary,
    `cheff_autoencoder.pt: ignored ${loss.length} keys that are not part of the autoencoder (${loss.length} under loss.)`,
  );

  // Without the ignore list the same keys are unexpected, and a damaged file reports all three kinds at once.
  const damaged = new Map(available);
  damaged.delete("encoder.conv_in.weight");
  damaged.set("decoder.conv_out.weight", placeholder([1, 128, 3, 3]));
  damaged.set("encoder.extra.weight", placeholder([1]));
  const message = mismatch(() =>
    matchKeys(expected, damaged, { ignorePrefixes: ["loss."], source: "ae.pt", stage: "autoencoder" })
  );
  assert.match(
    message,
    /1 missing \(encoder\.conv_in\.weight\); 1 unexpected \(encoder\.extra\.weight\); 1 misshapen \(decoder\.conv_out\.weight \[1,128,3,3\] in the file, \[3,128,3,3\] expected\)/,
  );
  const strict = mismatch(() => matchKeys(expected, available, { source: "ae.pt", stage: "autoencoder" }));
  assert.match(strict, new RegExp(`${loss.length} unexpected \\(loss\\.`));
});

kitTest("the latent-diffusion files hold the released autoencoder under first_stage_model.", [
  referencePath("manifests/cheff_autoencoder.json"),
  referencePath("manifests/cheff_diff_uncond.json"),
  referencePath("manifests/cheff_diff_t2i.json"),
], async () => {
  const ae = await manifest("cheff_autoencoder");
  const expected = new Map(
    ae.state_dict.filter((e) => !e.key.startsWith("loss.")).map((e) => [e.key, e.shape]),
  );
  for (const name of ["cheff_diff_uncond", "cheff_diff_t2i"]) {
    const { state_dict } = await manifest(name);
    const available = new Map(state_dict.map((e) => [e.key, placeholder(e.shape)]));
    const { tensors } = matchKeys(expected, available, {
      prefix: "first_stage_model.",
      source: name,
      stage: "autoencoder",
    });
    assert.equal(tensors.size, expected.size, name);
  }
});
