import assert from "node:assert/strict";
import { CheffError } from "../../../io/errors.ts";
import { parseSafetensors } from "../../../io/safetensors.ts";
import { parseLatentDiffusionConfig, parseUNetConfig } from "../../../stages/latent/config.ts";
import { unetLayout } from "../../../stages/latent/unet.ts";
import { CHEFF_LDM_T2I, CHEFF_LDM_UNCOND } from "../../../stages/presets.ts";
import { CHEFF_LATENT_SCHEDULE } from "../../../stages/schedules/latent.ts";
import { parseTextEncoderConfig } from "../../../stages/text/config.ts";
import { kitTest, referencePath } from "../../kit.ts";

const SMALL_UNET = {
  image_size: 16,
  in_channels: 3,
  out_channels: 3,
  model_channels: 32,
  attention_resolutions: [8, 4, 2],
  num_res_blocks: 1,
  channel_mult: [1, 2, 2, 2],
  num_head_channels: 16,
};

Deno.test("U-Net config reads plain arguments and wrappers alike", () => {
  const plain = parseUNetConfig(SMALL_UNET, "plain");
  const wrapped = parseUNetConfig({
    target: "cheff.ldm.modules.diffusionmodules.openaimodel.UNetModel",
    params: SMALL_UNET,
  }, "wrapped");
  const inLdm = parseUNetConfig({ unet_config: { target: "x", params: SMALL_UNET } }, "ldm");
  const inYaml = parseUNetConfig({
    model: { target: "x", params: { unet_config: { target: "x", params: SMALL_UNET } } },
  }, "yaml");
  assert.deepEqual(wrapped, plain);
  assert.deepEqual(inLdm, plain);
  assert.deepEqual(inYaml, plain);
  assert.equal(plain.modelChannels, 32);
  assert.deepEqual(plain.channelMult, [1, 2, 2, 2]);
  assert.equal(plain.numHeads, -1);
  assert.equal(plain.numHeadChannels, 16);
  assert.equal(plain.legacy, true);
  assert.equal(plain.useSpatialTransformer, false);
});

Deno.test("bare U-Net config means scale_factor 1 and Cheff's schedule", () => {
  const config = parseLatentDiffusionConfig(SMALL_UNET, "bare");
  assert.equal(config.scaleFactor, 1.0);
  assert.deepEqual(config.schedule, CHEFF_LATENT_SCHEDULE);
  assert.equal(config.textEncoder, undefined);
  assert.equal(config.firstStage, undefined);
});

Deno.test("presets parse with their released settings", () => {
  const uncond = parseLatentDiffusionConfig(CHEFF_LDM_UNCOND, "uncond");
  assert.equal(uncond.scaleFactor, 1.0);
  assert.deepEqual(uncond.unet.channelMult, [1, 2, 3, 4]);
  assert.equal(uncond.textEncoder, undefined);

  const t2i = parseLatentDiffusionConfig(CHEFF_LDM_T2I, "t2i");
  assert.equal(t2i.scaleFactor, 0.18215);
  assert.equal(t2i.unet.contextDim, 1280);
  assert.deepEqual(t2i.textEncoder, {
    width: 1280,
    layers: 32,
    vocabularySize: 30522,
    maxSeqLen: 150,
    heads: 8,
    headWidth: 64,
  });
});

Deno.test("released U-Nets get the documented head counts", () => {
  const heads = (preset: unknown) =>
    unetLayout(parseUNetConfig(preset, "preset")).inputBlocks.flat()
      .filter((l) => l.kind === "attentionBlock" || l.kind === "spatialTransformer")
      .map((l) => ("headWidth" in l ? `${l.heads}x${l.headWidth}` : `${l.heads}`));
  // num_head_channels 32 at 448, 672 and 896 channels.
  assert.deepEqual(heads(CHEFF_LDM_UNCOND), ["14", "14", "21", "21", "28", "28"]);
  // num_heads 8, head width channels / 8.
  assert.deepEqual(heads(CHEFF_LDM_T2I), ["8x56", "8x56", "8x112", "8x112", "8x112", "8x112"]);
});

Deno.test("text-encoder config without max_seq_len means 150 positions", () => {
  const config = parseTextEncoderConfig({
    target: "cheff.ldm.modules.encoders.modules.BERTEmbedder",
    params: { n_embed: 1280, n_layer: 32 },
  }, "t2i");
  assert.equal(config.maxSeqLen, 150);
  assert.equal(config.vocabularySize, 30522);
  assert.equal(config.width, 1280);
  assert.equal(config.layers, 32);
});

Deno.test("ckpt_path inside a config is never opened", () => {
  const config = parseLatentDiffusionConfig({
    ckpt_path: "/nonexistent/model.ckpt",
    unet_config: { target: "x", params: { ...SMALL_UNET, ckpt_path: "/nonexistent/unet.ckpt" } },
    first_stage_config: {
      target: "x",
      params: { ckpt_path: "/nonexistent/ae.pt", embed_dim: 3, ddconfig: {} },
    },
    cond_stage_config: "__is_unconditional__",
  }, "with ckpt_path");
  assert.equal(config.unet.modelChannels, 32);
  assert.equal(config.textEncoder, undefined);
});

Deno.test("U-Net config errors name the field", () => {
  const missing = { ...SMALL_UNET } as Record<string, unknown>;
  delete missing.model_channels;
  assert.throws(
    () => parseUNetConfig({ ...missing, num_heads: 4 }, "a.json"),
    (e: Error) => e instanceof CheffError && /a\.json/.test(e.message) && /no U-Net config/.test(e.message),
  );
  assert.throws(
    () => parseUNetConfig({ ...SMALL_UNET, num_res_blocks: 0 }, "b.json"),
    (e: Error) => e instanceof CheffError && /'num_res_blocks'/.test(e.message),
  );
  assert.throws(
    () => parseUNetConfig({ ...SMALL_UNET, use_scale_shift_norm: true }, "c.json"),
    (e: Error) => e instanceof CheffError && /use_scale_shift_norm/.test(e.message),
  );
  assert.throws(
    () => parseUNetConfig({ ...SMALL_UNET, num_head_channels: -1 }, "d.json"),
    (e: Error) => e instanceof CheffError && /num_heads or num_head_channels/.test(e.message),
  );
  assert.throws(
    () => parseUNetConfig({ ...SMALL_UNET, use_spatial_transformer: true }, "e.json"),
    (e: Error) => e instanceof CheffError && /context_dim/.test(e.message),
  );
  assert.throws(
    () => parseUNetConfig({ ...SMALL_UNET, channel_mult: [2, 2] }, "f.json"),
    (e: Error) => e instanceof CheffError && /start with 1/.test(e.message),
  );
});

Deno.test("latent-diffusion config rejects a mismatched context width", () => {
  const t2i = structuredClone(CHEFF_LDM_T2I) as Record<string, any>;
  t2i.cond_stage_config = { n_embed: 768, n_layer: 2 };
  assert.throws(
    () => parseLatentDiffusionConfig(t2i, "t2i.json"),
    (e: Error) => e instanceof CheffError && /context_dim 1280/.test(e.message) && /768/.test(e.message),
  );
});

for (const file of ["ldm_uncond_io.safetensors", "ldm_t2i_io.safetensors"]) {
  const path = referencePath(file);
  kitTest(`ldm_config and unet_config of ${file} parse to the same U-Net`, [path], () => {
    const { metadata } = parseSafetensors(Deno.readFileSync(path), file);
    const whole = parseLatentDiffusionConfig(JSON.parse(metadata.ldm_config), file);
    const bare = parseLatentDiffusionConfig(JSON.parse(metadata.unet_config), file);
    assert.deepEqual(whole.unet, bare.unet);
    assert.equal(whole.scaleFactor, Number(metadata.scale_factor));
    assert.equal(bare.scaleFactor, 1.0);
    assert.equal(whole.schedule.linear_end, 0.0295);
    if (metadata.cond_stage_config) {
      const text = parseTextEncoderConfig(JSON.parse(metadata.cond_stage_config), file);
      assert.deepEqual(whole.textEncoder, text);
      assert.equal(text.width, 4);
    }
  });
}
