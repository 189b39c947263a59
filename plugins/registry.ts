/**
 * The plugin registry: a plain map from plugin name to a loader, plus
 * third-party plugins named by module path in a pipeline file (a name ending in
 * .ts or .js, resolved against the pipeline file's folder, whose module exports
 * `plugin`).
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
