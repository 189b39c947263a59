/**
 * The plugin registry: a plain map from plugin name to a loader, plus
 * third-party plugins named by module path in a pipeline file (a name ending in
 * .ts, .js or .mjs, resolved against the pipeline file's folder, whose module
 * exports `plugin`).
 *
 * It also lists the settings each built-in kind takes in a pipeline file, so a
 * misspelt or mistyped setting is rejected with its JSON path before any model
 * loads. A third-party plugin's settings are passed through unchecked.
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { CheffError } from "../io/errors.ts";
import type { Plugin } from "./plugin.ts";

const BUILTIN: Record<string, () => Promise<Plugin>> = {
  "autoencoder": async () => (await import("./autoencoder.ts")).autoencoderPlugin,
  "latent-diffusion": async () => (await import("./latent_diffusion.ts")).latentDiffusionPlugin,
  "text-encoder": async () => (await import("./text_encoder.ts")).textEncoderPlugin,
  "super-resolution": async () => (await import("./super_resolution.ts")).superResolutionPlugin,
};

export const BUILTIN_PLUGINS = Object.keys(BUILTIN);

/**
 * The type of one stage setting in a pipeline file. `file` is a path that
 * resolves like a model path and must exist; `choice` takes one of `choices`.
 */
export type SettingSpec =
  | { type: "file" | "string" | "boolean" }
  | { type: "integer" | "number"; min?: number; max?: number }
  | { type: "choice"; choices: readonly string[] };

const MODEL_SETTINGS: Record<string, SettingSpec> = { config: { type: "file" } };

const SAMPLER: SettingSpec = { type: "choice", choices: ["ddim", "ddpm"] };
const SPACING: SettingSpec = { type: "choice", choices: ["exact", "reference"] };

/**
 * Settings each built-in plugin kind accepts in a pipeline stage, besides
 * `plugin`, `kind` and `model`. They match the settings the plugins document.
 */
export const BUILTIN_SETTINGS: Record<string, Record<string, Record<string, SettingSpec>>> = {
  "autoencoder": { encode: MODEL_SETTINGS, decode: MODEL_SETTINGS },
  "latent-diffusion": {
    diffuse: {
      ...MODEL_SETTINGS,
      ema: { type: "boolean" },
      sampler: SAMPLER,
      steps: { type: "integer", min: 1, max: 1000 },
      spacing: SPACING,
      eta: { type: "number", min: 0 },
      guidance: { type: "number" },
      context: { type: "file" },
      invertMask: { type: "boolean" },
      finalBlend: { type: "boolean" },
    },
  },
  "text-encoder": { embed: MODEL_SETTINGS },
  "super-resolution": {
    upscale: {
      ...MODEL_SETTINGS,
      sampler: SAMPLER,
      steps: { type: "integer", min: 1, max: 2000 },
      spacing: SPACING,
      eta: { type: "number", min: 0 },
      clip: { type: "boolean" },
      size: { type: "integer", min: 4 },
    },
  },
};

/**
 * Settings that the generation runner sets for every stage, each with the
 * pipeline field a user sets instead. A stage that gives them is rejected.
 */
export const RUN_SETTINGS: Record<string, string> = {
  seed: "the run's seed: set $.seed or pass --seed (image i gets seed + i)",
  firstIndex: "the image index, which the runner sets per batch",
  count: "the image count: set $.count or pass --count",
  noise: "recorded noise replays one cheff diffuse or cheff upscale run; a pipeline seeds every image from $.seed",
  report: "the report: set $.conditioning.report, $.conditioning.reports or $.conditioning.reports_file",
  mask: "the mask: set $.mask",
};

/** True when `name` names a module rather than a built-in plugin. */
export function isModulePlugin(name: string): boolean {
  return /\.(ts|js|mjs)$/.test(name);
}

/** Returns the plugin `name`; `baseDir` resolves module paths. */
export async function getPlugin(name: string, baseDir = Deno.cwd()): Promise<Plugin> {
  const builtin = BUILTIN[name];
  if (builtin) return await builtin();
  if (!isModulePlugin(name)) {
    throw new CheffError(`unknown plugin '${name}', expected one of ${BUILTIN_PLUGINS.join(", ")} or a module path ending in .ts or .js`);
  }
  const path = isAbsolute(name) ? name : resolve(baseDir, name);
  let module: Record<string, unknown>;
  try {
    module = await import(pathToFileURL(path).href);
  } catch (error) {
    throw new CheffError(`plugin module ${path} could not be loaded: ${(error as Error).message.split("\n")[0]}`);
  }
  const plugin = module.plugin as Plugin | undefined;
  if (!plugin || typeof plugin.run !== "function" || typeof plugin.kinds !== "object") {
    throw new CheffError(`plugin module ${path} does not export a 'plugin' with 'kinds' and 'run'`);
  }
  return plugin;
}
