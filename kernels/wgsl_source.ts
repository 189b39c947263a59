/**
 * Loads the WGSL source of a kernel family from kernels/wgsl/, once per process.
 */
const cache = new Map<string, string>();

export function wgsl(family: string): string {
  let code = cache.get(family);
  if (code === undefined) {
    code = Deno.readTextFileSync(new URL(`./wgsl/${family}.wgsl`, import.meta.url));
    cache.set(family, code);
  }
  return code;
}

/** Workgroup size of the one-dimensional kernels. */
export const WORKGROUP = 64;
