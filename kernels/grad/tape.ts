/**
 * A reverse-mode tape over kernel calls. While a tape is active, the
 * differentiable ops of `kernels/grad/ops.ts` record each call: its output, its inputs
 * and a backward function closing over what it saved. `backward` then walks the
 * records in reverse and accumulates gradients.
 *
 * Tensors are identified by their storage (the GPU buffer or the host array),
 * not by the Tensor object. Networks reshape freely, and a reshaped view shares
 * its storage with the original, so a gradient found for one view is the
 * gradient of every view. The tape keeps a view of every recorded output and every saved
 * input, so no storage in the graph goes back to the pool (and gets reused under
 * another key) until `release()`.
 *
 * @example
 * ```ts
 * const tape = new Tape();
 * tape.watch(weights.get("conv_in.weight"));
 * const y = tape.run(() => network.forward(x));
 * const grads = tape.backward(y, dy);
 * const dw = grads.get(weights.get("conv_in.weight"));
 * tape.release();
 * ```
 */
import type { Tensor } from "../../gpu/tensor.ts";
import { add } from "../elementwise.ts";

/** Identity of a tensor's storage, shared by all its reshaped views. */
export type StorageKey = GPUBuffer | Float32Array;

export function storageKey(t: Tensor): StorageKey {
  return t.isGpu ? t.buffer : t.data;
}

/**
 * Computes the gradients of one op's inputs from the gradient of its output.
 * `needs[i]` is true when input i needs a gradient. Entries for inputs that do
 * not may be undefined. Returned tensors are new (the tape releases them).
 */
export type BackwardFunction = (dy: Tensor, needs: boolean[]) => (Tensor | undefined)[];

/** One recorded op call. */
export interface TapeNode {
  readonly op: string;
  /** A view of the output, kept alive by the tape. */
  readonly output: Tensor;
  readonly inputs: readonly (StorageKey | undefined)[];
  readonly inputShapes: readonly (readonly number[] | undefined)[];
  readonly backward: BackwardFunction;
}

let active: Tape | undefined;

/** Returns the tape that is recording, if any. */
export function activeTape(): Tape | undefined {
  return active;
}

/** Gradients by storage, read through any view of the tensor. */
export class Gradients {
  constructor(private readonly byKey: Map<StorageKey, Tensor>) {}

  /** Returns the gradient of `t` shaped like `t` (a view the caller releases), or undefined when nothing reached it. */
  get(t: Tensor): Tensor | undefined {
    const g = this.byKey.get(storageKey(t));
    return g?.reshape(t.shape);
  }

  has(t: Tensor): boolean {
    return this.byKey.has(storageKey(t));
  }

  release(): void {
    for (const g of this.byKey.values()) if (!g.released) g.release();
    this.byKey.clear();
  }

  /** Moves the gradients of `parts` into one set, adding those of a tensor that several parts reach. */
  static merge(...parts: Gradients[]): Gradients {
    const grads = new Map<StorageKey, Tensor>();
    for (const part of parts) {
      for (const [key, g] of part.byKey) accumulate(grads, key, g, g.shape);
      part.byKey.clear();
    }
    return new Gradients(grads);
  }
}

export class Tape {
  readonly nodes: TapeNode[] = [];
  #requiresGrad = new Set<StorageKey>();
  #retained = new Set<StorageKey>();
  #kept: Tensor[] = [];
  #retainAll: boolean;

  /** With `retainAll`, `backward` keeps the gradient of every recorded output, not only of watched tensors. */
  constructor(options: { retainAll?: boolean } = {}) {
    this.#retainAll = options.retainAll ?? false;
  }

  /** Marks tensors (parameters, inputs) whose gradients `backward` should return. */
  watch(...tensors: Tensor[]): void {
    for (const t of tensors) {
      const key = storageKey(t);
      this.#requiresGrad.add(key);
      this.#retained.add(key);
    }
  }

  /** Tells whether a gradient has to flow into `t`: it is watched or computed from a watched tensor. */
  requiresGrad(t: Tensor | undefined): boolean {
    return t !== undefined && this.#requiresGrad.has(storageKey(t));
  }

  /** Runs `fn` with this tape recording, restoring the previous tape afterwards (also on error). */
  run<T>(fn: () => T): T {
    const previous = active;
    active = this;
    try {
      return fn();
    } finally {
      active = previous;
    }
  }

  /** Keeps `t`'s storage alive until `release()` and returns the view that does so. */
  save(t: Tensor): Tensor {
    const view = t.reshape(t.shape);
    this.#kept.push(view);
    return view;
  }

  /**
   * Records an op call when any input requires a gradient (returning true), and
   * does nothing otherwise (returning false), so frozen parts of a network cost
   * no memory.
   */
  record(op: string, output: Tensor, inputs: (Tensor | undefined)[], backward: BackwardFunction): boolean {
    if (!inputs.some((t) => this.requiresGrad(t))) return false;
    const kept = this.save(output);
    this.#requiresGrad.add(storageKey(output));
    this.nodes.push({
      op,
      output: kept,
      inputs: inputs.map((t) => (t ? storageKey(t) : undefined)),
      inputShapes: inputs.map((t) => t?.shape),
      backward,
    });
    return true;
  }

  /**
   * Propagates `dOutput` (the gradient of some scalar with respect to `output`)
   * back through the recorded calls. Returns the gradients of the watched
   * tensors (and of every recorded output with `retainAll`).
   */
  backward(output: Tensor, dOutput: Tensor): Gradients {
    return this.backwardMany([[output, dOutput]]);
  }

  /** Like `backward`, seeded with the gradients of several outputs at once (pairs of output and gradient). */
  backwardMany(seeds: [Tensor, Tensor][]): Gradients {
    const grads = new Map<StorageKey, Tensor>();
    for (const [output, dOutput] of seeds) {
      if (dOutput.size !== output.size) {
        throw new Error(`backward: gradient of ${dOutput.size} values for an output of ${output.size}`);
      }
      accumulate(grads, storageKey(output), dOutput.reshape(output.shape), output.shape);
    }

    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      const outKey = storageKey(node.output);
      const g = grads.get(outKey);
      if (!g) continue;
      const needs = node.inputs.map((key) => key !== undefined && this.#requiresGrad.has(key));
      const dy = g.reshape(node.output.shape);
      const inputGrads = node.backward(dy, needs);
      dy.release();
      for (const [j, key] of node.inputs.entries()) {
        const dx = inputGrads[j];
        if (!dx) continue;
        if (!needs[j] || key === undefined) {
          dx.release();
          continue;
        }
        accumulate(grads, key, dx, node.inputShapes[j]!);
      }
      if (!this.#retainAll && !this.#retained.has(outKey)) {
        grads.delete(outKey);
        g.release();
      }
    }
    return new Gradients(grads);
  }

  /** Releases every kept view; the recorded calls can no longer be differentiated. */
  release(): void {
    for (const t of this.#kept) if (!t.released) t.release();
    this.#kept = [];
    this.nodes.length = 0;
    this.#requiresGrad.clear();
    this.#retained.clear();
  }
}

/** Adds `dx` into the gradient stored for `key`, taking ownership of `dx`. */
function accumulate(
  grads: Map<StorageKey, Tensor>,
  key: StorageKey,
  dx: Tensor,
  shape: readonly number[],
): void {
  const existing = grads.get(key);
  if (!existing) {
    grads.set(key, dx.size === 0 ? dx : reshaped(dx, shape));
    return;
  }
  const a = existing.reshape(shape);
  const b = dx.reshape(shape);
  const sum = add(a, b);
  a.release();
  b.release();
  existing.release();
  dx.release();
  grads.set(key, sum);
}

/** `t` viewed as `shape`, releasing `t` (the view keeps the storage). */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const view = t.reshape(shape);
  t.release();
  return view;
}
