import assert from "node:assert/strict";
import { formatReport, inspectCommand, inspectFile, prefixTotals } from "../../cli/inspect.ts";
import { CheffError } from "../../io/errors.ts";
import { kitTest, referencePath } from "../kit.ts";

Deno.test("prefix totals extend a group's prefix while all its keys share it", () => {
  const line = (key: string, parameters: number) => ({ key, shape: [parameters], dtype: "F32", parameters });
  assert.deepEqual(
    prefixTotals([
      line("model.diffusion_model.a.weight", 4),
      line("model.diffusion_model.b.weight", 6),
      line("encoder.conv.weight", 2),
      line("encoder.norm.weight", 1),
      line("betas", 10),
      line("alphas", 10),
    ]),
    [
      { prefix: "model.diffusion_model", tensors: 2, parameters: 10 },
      { prefix: "encoder", tensors: 2, parameters: 3 },
      { prefix: "(no prefix)", tensors: 2, parameters: 20 },
    ],
  );
});

Deno.test("inspect --help has an example and unknown options are one line", async () => {
  assert.match(inspectCommand.help, /Example:\n\s+cheff inspect /);
  await assert.rejects(
    inspectCommand.run(["--bogus"]),
    (e: unknown) => e instanceof CheffError && /--bogus/.test(e.message),
  );
  await assert.rejects(inspectCommand.run([]), CheffError);
});

kitTest("inspect ae.pt lists every tensor with shape, dtype and count, grouped by prefix", [
  referencePath("ae.pt"),
], async () => {
  const report = await inspectFile(referencePath("ae.pt"));
  assert.equal(report.format, "torch-zip");
  assert.equal(report.weightsAt, "state_dict");
  assert.deepEqual(Object.keys(report.topLevel), [
    "epoch",
    "global_step",
    "pytorch-lightning_version",
    "state_dict",
  ]);
  assert.equal(report.topLevel["pytorch-lightning_version"], 'str "1.6.0"');
  assert.equal(report.weights.length, 234);
  assert.deepEqual(report.weights.find((l) => l.key === "encoder.conv_in.weight"), {
    key: "encoder.conv_in.weight",
    shape: [32, 3, 3, 3],
    dtype: "F32",
    parameters: 864,
  });
  assert.equal(
    report.weights.find((l) => l.key === "loss.discriminator.main.3.num_batches_tracked")?.dtype,
    "I64",
  );
  assert.deepEqual(report.weightTotals.map((g) => g.prefix), [
    "encoder",
    "decoder",
    "loss",
    "quant_conv",
    "post_quant_conv",
  ]);
  assert.equal(report.weightTotals.reduce((s, g) => s + g.parameters, 0), report.parameters);
  assert.equal(report.otherTensors.length, 0);
  const text = formatReport(report);
  assert.match(text, /encoder\.conv_in\.weight\s+\[32, 3, 3, 3\]\s+F32\s+864\n/);
  assert.match(text, /Weights by prefix:\n\s+encoder\s+88 tensors/);
});

kitTest("inspect ldm_uncond.pt summarises the training entries and reads the config as data", [
  referencePath("ldm_uncond.pt"),
], async () => {
  const report = await inspectFile(referencePath("ldm_uncond.pt"));
  assert.match(report.topLevel.optimizer_states, /^list of 1 item, 720 tensors/);
  assert.match(report.topLevel.loops, /^dict of 4 entries: fit_loop, validate_loop, test_loop/);
  assert.match(report.topLevel.hyper_parameters, /^omegaconf\.dictconfig\.DictConfig with 12 keys/);
  assert.equal(report.weights.length, 698);
  assert.deepEqual(report.weightTotals.map((g) => [g.prefix, g.tensors]), [
    ["(no prefix)", 12],
    ["model.diffusion_model", 240],
    ["model_ema", 242],
    ["first_stage_model", 204],
  ]);
  assert.equal(report.otherTensors.filter((l) => l.key.startsWith("optimizer_states.0.state.")).length, 720);
  assert.equal((report.config as Record<string, unknown>).linear_end, 0.0295);
  // The JSON form round-trips.
  assert.equal(JSON.parse(JSON.stringify(report)).weights.length, 698);
});

kitTest(
  "inspect reads safetensors files and their metadata",
  [referencePath("ae_io.safetensors")],
  async () => {
    const report = await inspectFile(referencePath("ae_io.safetensors"));
    assert.equal(report.format, "safetensors");
    assert.ok("description" in report.topLevel);
    assert.ok(report.weights.some((l) => l.key === "decoded"));
  },
);
