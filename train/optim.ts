/**
 * Optimizers over named parameters, evaluated element by element in float32 as
 * PyTorch 1.13's single-tensor Adam and AdamW do, with gradient-norm clipping
 * and a linear learning-rate warm-up. Moments live on the host. After a step the
 * new values are written into the parameter tensors (host arrays in place, GPU
 * buffers by upload). The forms kernels derived from the old values (a
 * transposed weight, a weight slice) are dropped.
 */
import { Tensor } from "../gpu/tensor.ts";
import { CheffError } from "../io/errors.ts";
import type { SplitTable } from "../kernels/embedding.ts";

/**
 * A parameter as the networks hold it: one tensor, or a table uploaded in row
 * chunks because it exceeds one storage binding (the released text encoder's
 * token table on lavapipe). The optimizer treats either as one array of values.
 */
export type Trainable = Tensor | SplitTable;

/** Lists the tensors that hold a parameter's values, in row order. */
export function partsOf(t: Trainable): Tensor[] {
  return t instanceof Tensor ? [t] : t.chunks;
}

/** Joins the parts' values (in row order) into one array; a single part is returned as it is. */
export function joinParts(values: Float32Array[]): Float32Array {
  if (values.length === 1) return values[0];
  const out = new Float32Array(values.reduce((a, v) => a + v.length, 0));
  let offset = 0;
  for (const v of values) {
    out.set(v, offset);
    offset += v.length;
  }
  return out;
}

const f32 = Math.fround;

export interface AdamSettings {
  lr: number;
  /** β1 and β2 of the moment averages (PyTorch's default 0.9, 0.999). */
  betas?: [number, number];
  /** Added to √v̂ (not inside the root); default 1e-8. */
  eps?: number;
  /**
   * Weight decay. AdamW decouples it (p ← p·(1 − lr·wd) before the Adam step,
   * default 0.01); Adam adds wd·p to the gradient (L2, default 0).
   */
  weightDecay?: number;
}

/** Host copies of the parameters an optimizer updates, with their device tensors. */
export class ParameterStore {
  readonly values = new Map<string, Float32Array>();

  private constructor(readonly tensors: Map<string, Trainable>) {}

  /** Reads the current values of `tensors` (by name) into host copies. */
  static async from(tensors: Map<string, Trainable>): Promise<ParameterStore> {
    const store = new ParameterStore(tensors);
    const names = [...tensors.keys()];
    const parts = names.map((name) => partsOf(tensors.get(name)!));
    const values = await Tensor.readAll(parts.flat());
    let next = 0;
    names.forEach((name, i) => {
      const own = parts[i];
      const read = values.slice(next, next + own.length);
      next += own.length;
      // Host tensors share their array with the store, so the optimizer updates them in place.
      store.values.set(name, own.length === 1 && !own[0].isGpu ? own[0].data : joinParts(read));
    });
    return store;
  }

  /** Writes the host values of `names` back to their tensors and drops derived forms made from the old values. */
  commit(names: Iterable<string> = this.values.keys()): void {
    for (const name of names) {
      const values = this.values.get(name)!;
      let offset = 0;
      for (const t of partsOf(this.tensors.get(name)!)) {
        const part = values.subarray(offset, offset + t.size);
        offset += t.size;
        if (t.gpu) {
          t.gpu.write(t.buffer, 0, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
        } else if (t.data !== values) {
          t.data.set(part);
        }
        clearDerived(t);
      }
    }
  }

  /** Replaces the values (from a saved state, say) and writes them to the tensors. */
  load(values: Map<string, Float32Array>): void {
    for (const [name, current] of this.values) {
      const saved = values.get(name);
      if (!saved) throw new CheffError(`training state: parameter ${name} is missing`);
      if (saved.length !== current.length) {
        throw new CheffError(
          `training state: parameter ${name} has ${saved.length} values, the model expects ${current.length}`,
        );
      }
      current.set(saved);
    }
    this.commit();
  }
}

/** Releases the forms kernels cached from a tensor's old values (see Tensor.derived). */
export function clearDerived(t: Tensor): void {
  for (const d of t.derived.values()) if (!d.released) d.release();
  t.derived.clear();
}

/** Scales the gradients in place so their global L2 norm is at most `maxNorm` (as torch's clip_grad_norm_). Returns the norm before clipping. */
export function clipGradNorm(grads: Map<string, Float32Array>, maxNorm: number): number {
  let squares = 0;
  for (const g of grads.values()) for (const v of g) squares += v * v;
  const norm = Math.sqrt(squares);
  const coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1) {
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = f32(g[i] * coefficient);
  }
  return norm;
}

/** Returns the learning rate at `step` (0-based) with a linear warm-up over `warmupSteps` steps to `lr`. */
export function warmupLr(lr: number, step: number, warmupSteps: number): number {
  if (warmupSteps <= 0) return lr;
  return lr * Math.min(1, (step + 1) / warmupSteps);
}

/**
 * Scales the learning rate of step `step` (counted from 0) by `gamma` once for
 * each milestone reached, as PyTorch's MultiStepLR does. With milestones [400]
 * and gamma 0.25 the first 400 steps use lr and every later one lr / 4.
 */
export function milestoneLr(lr: number, step: number, milestones: readonly number[], gamma: number): number {
  const reached = milestones.filter((milestone) => step >= milestone).length;
  return lr * gamma ** reached;
}

/** The saved form of an optimizer: step count and both moments per parameter. */
export interface OptimizerState {
  step: number;
  exp_avg: Map<string, Float32Array>;
  exp_avg_sq: Map<string, Float32Array>;
}

/**
 * Adam, or AdamW with `decoupled`. Per element, in float32 (PyTorch 1.13, single-tensor path):
 * AdamW: p ← p·(1 − lr·wd); Adam: g ← g + wd·p;
 * m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps).
 */
export class Adam {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  step = 0;
  readonly expAvg = new Map<string, Float32Array>();
  readonly expAvgSq = new Map<string, Float32Array>();

  constructor(readonly params: ParameterStore, settings: AdamSettings, readonly decoupled: boolean) {
    this.lr = settings.lr;
    this.betas = settings.betas ?? [0.9, 0.999];
    this.eps = settings.eps ?? 1e-8;
    this.weightDecay = settings.weightDecay ?? (decoupled ? 0.01 : 0);
    for (const [name, values] of params.values) {
      this.expAvg.set(name, new Float32Array(values.length));
      this.expAvgSq.set(name, new Float32Array(values.length));
    }
  }

  /**
   * Applies one step with `grads` (by parameter name) and writes the new values
   * to the tensors. A parameter without a gradient is left alone, as PyTorch
   * skips parameters whose grad is None.
   */
  apply(grads: Map<string, Float32Array>): void {
    this.step++;
    const [beta1, beta2] = this.betas;
    const lr = this.lr, wd = this.weightDecay, eps = f32(this.eps);
    const biasCorrection1 = 1 - beta1 ** this.step;
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** this.step);
    const stepSize = f32(lr / biasCorrection1);
    const decay = f32(1 - lr * wd);
    const [b1, b2, oneMinusB1, oneMinusB2] = [f32(beta1), f32(beta2), f32(1 - beta1), f32(1 - beta2)];
    const sqrtBc2 = f32(biasCorrection2Sqrt);
    const updated: string[] = [];
    for (const [name, g] of grads) {
      const p = this.params.values.get(name);
      if (!p) throw new Error(`optimizer: gradient for unknown parameter ${name}`);
      if (g.length !== p.length) {
        throw new Error(`optimizer: gradient of ${name} has ${g.length} values, expected ${p.length}`);
      }
      const m = this.expAvg.get(name)!, v = this.expAvgSq.get(name)!;
      for (let i = 0; i < p.length; i++) {
        let grad = g[i];
        if (this.decoupled) p[i] = f32(p[i] * decay);
        else if (wd !== 0) grad = f32(grad + f32(wd * p[i]));
        m[i] = f32(f32(m[i] * b1) + f32(oneMinusB1 * grad));
        v[i] = f32(f32(v[i] * b2) + f32(f32(oneMinusB2 * grad) * grad));
        const denom = f32(f32(f32(Math.sqrt(v[i])) / sqrtBc2) + eps);
        p[i] = f32(p[i] - f32(stepSize * f32(m[i] / denom)));
      }
      updated.push(name);
    }
    this.params.commit(updated);
  }

  state(): OptimizerState {
    return { step: this.step, exp_avg: this.expAvg, exp_avg_sq: this.expAvgSq };
  }

  load(state: OptimizerState): void {
    this.step = state.step;
    for (
      const [target, source, label] of [
        [this.expAvg, state.exp_avg, "exp_avg"],
        [this.expAvgSq, state.exp_avg_sq, "exp_avg_sq"],
      ] as const
    ) {
      for (const [name, values] of target) {
        const saved = source.get(name);
        if (!saved || saved.length !== values.length) {
          throw new CheffError(`training state: ${label} of ${name} is missing or misshapen`);
        }
        values.set(saved);
      }
    }
  }
}

/** AdamW (decoupled weight decay, default 0.01), as the reference trains latent diffusion. */
export function adamW(params: ParameterStore, settings: AdamSettings): Adam {
  return new Adam(params, settings, true);
}

/** Adam (L2 weight decay, default 0), as the reference trains the autoencoder (betas 0.5, 0.9). */
export function adam(params: ParameterStore, settings: AdamSettings): Adam {
  return new Adam(params, settings, false);
}
