/**
 * Access to the metrics reference file: its tensors and the float64 expected
 * values stored in its metadata (`values_f64`, non-finite values as "inf", "-inf", "nan").
 */
import { parseSafetensors, type HostTensor } from "../../io/safetensors.ts";
import { referencePath } from "../kit.ts";

export const METRICS_REFERENCE = referencePath("metrics.safetensors");

export interface MetricsReference {
  tensor(name: string): HostTensor;
  /** The float64 expected value(s) of `name`, nested arrays flattened. */
  expected(name: string): number[];
}

let cached: MetricsReference | undefined;

export async function loadMetricsReference(): Promise<MetricsReference> {
  if (cached) return cached;
  const file = parseSafetensors(await Deno.readFile(METRICS_REFERENCE), METRICS_REFERENCE);
  const values = JSON.parse(file.metadata.values_f64) as Record<string, unknown>;
  const words: Record<string, number> = { inf: Infinity, "-inf": -Infinity, nan: NaN };
  const toNumber = (value: unknown): number => (typeof value === "string" && value in words ? words[value] : Number(value));
  cached = {
    tensor(name) {
      const tensor = file.tensors.get(name);
      if (!tensor) throw new Error(`metrics reference has no tensor '${name}'`);
      return tensor;
    },
    expected(name) {
      if (!(name in values)) throw new Error(`metrics reference has no float64 value '${name}'`);
      const value = values[name];
      return Array.isArray(value) ? (value.flat(Infinity) as unknown[]).map(toNumber) : [toNumber(value)];
    },
  };
  return cached;
}

/**
 * Asserts max |actual − expected| ≤ tolerance · max |expected| over the finite
 * expected entries, and exact equality on the non-finite ones.
 */
export function assertCloseOfScale(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, expected ${expected.length}`);
  }
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Number.isFinite(expected[i])) scale = Math.max(scale, Math.abs(expected[i]));
  }
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    if (!Number.isFinite(expected[i])) {
      if (!Object.is(actual[i], expected[i])) {
        throw new Error(`${what}[${i}]: got ${actual[i]}, expected exactly ${expected[i]}`);
      }
      continue;
    }
    const error = Math.abs(actual[i] - expected[i]);
    if (Number.isNaN(error)) throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    if (error > worst) {
      worst = error;
      worstIndex = i;
    }
  }
  if (!(worst <= tolerance * scale)) {
    throw new Error(
      `${what}[${worstIndex}]: got ${actual[worstIndex]}, expected ${expected[worstIndex]} ` +
        `(error ${worst.toExponential(3)} > ${tolerance} of scale ${scale})`,
    );
  }
}
