/**
 * The presets' parameter lists against every key of the released full-size
 * checkpoints (shapes only, from the manifests): each key belongs to exactly one
 * stage, or is a schedule buffer or EMA counter, with the shape the preset implies.
 */
import assert from "node:assert/strict";
import { parseAutoencoderConfig } from "../../../stages/autoencoder/config.ts";
import { autoencoderParameters } from "../../../stages/autoencoder/network.ts";
import { parseLatentDiffusionConfig } from "../../../stages/latent/config.ts";
import { emaKey } from "../../../stages/latent/load.ts";
import { unetParameters } from "../../../stages/latent/unet.ts";
import { CHEFF_AE, CHEFF_LDM_T2I, CHEFF_LDM_UNCOND } from "../../../stages/presets.ts";
import { TABLE_NAMES } from "../../../stages/schedules/latent.ts";
import { textEncoderParameters } from "../../../stages/text/encoder.ts";
import { kitTest, referencePath } from "../../kit.ts";

interface ManifestEntry {
  key: string;
  shape: number[];
}

function readManifest(
  name: string,
): {
  state_dict: ManifestEntry[];
  variant?: { keys_that_differ: { key: string; shape_variant: number[] | null }[] };
} {
  return JSON.parse(Deno.readTextFileSync(referencePath(`manifests/${name}`)));
}

/** Maps each key of a latent-diffusion checkpoint to its stage and the shape cheff expects for it. */
function expectedKeys(
  preset: unknown,
): { stages: Map<string, [string, readonly number[]]>; ignored: (key: string) => string | undefined } {
  const config = parseLatentDiffusionConfig(preset, "preset");
  const stages = new Map<string, [string, readonly number[]]>();
  for (const [name, shape] of unetParameters(config.unet).shapes) {
    stages.set(`model.diffusion_model.${name}`, ["U-Net", shape]);
    stages.set(emaKey(name), ["EMA U-Net", shape]);
  }
  for (const [name, shape] of autoencoderParameters(parseAutoencoderConfig(CHEFF_AE, "cheff-ae")).shapes) {
    stages.set(`first_stage_model.${name}`, ["autoencoder", shape]);
  }
  if (config.textEncoder) {
    for (const [name, shape] of textEncoderParameters(config.textEncoder).shapes) {
      stages.set(`cond_stage_model.transformer.${name}`, ["text encoder", shape]);
    }
  }
  const buffers = new Set(Object.values(TABLE_NAMES));
  const ignored = (key: string) => {
    if (buffers.has(key)) return "schedule buffer";
    if (key === "model_ema.decay" || key === "model_ema.num_updates") return "EMA counter";
    if (key.startsWith("cond_stage_model.transformer.to_logits.")) return "unused to_logits";
    return undefined;
  };
  return { stages, ignored };
}

function checkManifest(file: string, preset: unknown, ignoredCounts: Record<string, number>): void {
  const manifest = readManifest(file);
  const { stages, ignored } = expectedKeys(preset);
  const seen = new Set<string>();
  const counts: Record<string, number> = {};
  for (const { key, shape } of manifest.state_dict) {
    const reason = ignored(key);
    if (reason) {
      counts[reason] = (counts[reason] ?? 0) + 1;
      continue;
    }
    const expected = stages.get(key);
    assert.ok(expected, `${file}: key ${key} belongs to no stage`);
    assert.deepEqual(shape, expected[1], `${file}: ${key} (${expected[0]})`);
    seen.add(key);
  }
  const unseen = [...stages.keys()].filter((k) => !seen.has(k));
  assert.deepEqual(unseen, [], `${file}: parameters the preset expects but the manifest lacks`);
  assert.deepEqual(counts, ignoredCounts);
}

kitTest("cheff-ldm-uncond preset matches every key of the released file", [
  referencePath("manifests/cheff_diff_uncond.json"),
], () => {
  checkManifest("cheff_diff_uncond.json", CHEFF_LDM_UNCOND, { "schedule buffer": 12, "EMA counter": 2 });
});

kitTest("cheff-ldm-t2i preset matches every key of the released file", [
  referencePath("manifests/cheff_diff_t2i.json"),
], () => {
  checkManifest("cheff_diff_t2i.json", CHEFF_LDM_T2I, {
    "schedule buffer": 12,
    "EMA counter": 2,
    "unused to_logits": 2,
  });
});

kitTest("channel_mult of the YAML file gives the manifest's variant shapes", [
  referencePath("manifests/cheff_diff_uncond.json"),
], () => {
  const manifest = readManifest("cheff_diff_uncond.json");
  const yaml = structuredClone(CHEFF_LDM_UNCOND);
  yaml.unet_config.channel_mult = [1, 2, 4, 4];
  const shapes = new Map<string, readonly number[]>();
  for (const [name, shape] of unetParameters(parseLatentDiffusionConfig(yaml, "yaml variant").unet).shapes) {
    shapes.set(`model.diffusion_model.${name}`, shape);
    shapes.set(emaKey(name), shape);
  }
  const differing = manifest.variant!.keys_that_differ;
  assert.ok(differing.length > 0);
  for (const { key, shape_variant } of differing) {
    // null: the key exists in only one of the two variants.
    assert.deepEqual(shapes.get(key) ?? null, shape_variant, key);
  }
});

kitTest(
  "EMA names map one to one onto released U-Net keys",
  [referencePath("manifests/cheff_diff_t2i.json")],
  () => {
    for (
      const [file, preset] of [["cheff_diff_uncond.json", CHEFF_LDM_UNCOND], [
        "cheff_diff_t2i.json",
        CHEFF_LDM_T2I,
      ]] as const
    ) {
      const names = [...unetParameters(parseLatentDiffusionConfig(preset, file).unet).shapes.keys()];
      const emaKeys = new Set(names.map(emaKey));
      assert.equal(emaKeys.size, names.length, `${file}: two U-Net names share an EMA key`);
      const inFile = readManifest(file).state_dict.map((e) => e.key).filter((k) =>
        k.startsWith("model_ema.diffusion_model")
      );
      assert.deepEqual(new Set(inFile), emaKeys, file);
    }
  },
);
