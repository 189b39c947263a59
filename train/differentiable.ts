/**
 * Loads a network module with its kernel imports pointed at `kernels/grad/ops.ts`, so
 * the unchanged network code records onto a tape while one is running.
 *
 * The module's source is read, every import of a kernel module that
 * `kernels/grad/ops.ts` wraps is replaced by it (same export names), every other
 * relative import becomes an absolute URL, and the result is imported from a
 * `data:` URL. Imported modules that reach a kernel themselves (the text encoder
 * reuses the U-Net's head helpers, say) are rewritten the same way. Modules that
 * reach none are shared with the rest of the program.
 *
 * NOTE: this exists because the networks import the kernel modules directly.
 * Once they import their kernel functions from `kernels/grad/ops.ts` (which are the
 * kernels themselves while no tape records), `differentiable()` can return the
 * module as it is.
 *
 * @example
 * ```ts
 * const { UNet } = await differentiable<typeof import("../stages/latent/unet.ts")>("stages/latent/unet.ts");
 * const unet = new UNet(config, weights); // calls record while a Tape runs
 * ```
 */
const ROOT = new URL("../", import.meta.url);
const KERNELS = new URL("kernels/", ROOT).href;
const OPS = new URL("kernels/grad/ops.ts", ROOT).href;

/** Rewritten module URLs by original URL, or the original URL when nothing needed rewriting. */
const rewritten = new Map<string, Promise<string>>();

const IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"']+)\2/g;

/** The kernel modules whose network-facing functions `kernels/grad/ops.ts` provides in differentiable form. */
const WRAPPED = [
  "attention",
  "conv",
  "elementwise",
  "embedding",
  "layout",
  "matmul",
  "norm",
  "resize",
  "softmax",
]
  .map((name) => new URL(`${name}.ts`, KERNELS).href);

function isKernelModule(url: string): boolean {
  return WRAPPED.includes(url);
}

/** Returns the URL to import for `url`: a data: URL when the module (or one it imports) reaches a kernel. */
function resolveModule(url: string): Promise<string> {
  let pending = rewritten.get(url);
  if (!pending) {
    pending = rewriteModule(url);
    rewritten.set(url, pending);
  }
  return pending;
}

async function rewriteModule(url: string): Promise<string> {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return url;
  const source = await Deno.readTextFile(new URL(url));
  const specifiers = new Map<string, string>();
  let changed = false;
  for (const match of source.matchAll(IMPORT)) {
    const specifier = match[3];
    if (!specifier.startsWith(".")) continue;
    const absolute = new URL(specifier, url).href;
    let target: string;
    if (isKernelModule(absolute)) {
      target = OPS;
      changed = true;
    } else if (absolute.startsWith(KERNELS) || absolute.startsWith(OPS)) {
      target = absolute;
    } else {
      target = await resolveModule(absolute);
      if (target !== absolute) changed = true;
    }
    specifiers.set(specifier, target);
  }
  if (!changed) return url;
  const output = source.replace(IMPORT, (whole, head: string, quote: string, specifier: string) => {
    const target = specifiers.get(specifier);
    return target ? `${head}${quote}${target}${quote}` : whole;
  });
  return `data:application/typescript;base64,${base64(output)}`;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Imports the module at `path` (relative to the repository root, e.g.
 * `stages/latent/unet.ts`) with its kernel calls going through `kernels/grad/ops.ts`.
 */
export async function differentiable<T>(path: string): Promise<T> {
  const url = new URL(path, ROOT).href;
  return await import(await resolveModule(url)) as T;
}
