/**
 * The exponential moving average of the weights kept by latent-diffusion
 * training (the reference's `LitEma`), in float32 as it computes it. Each
 * update first increments the update count n, then uses
 * decay = min(decay_max, (1 + n) / (10 + n)), a warm-up that averages quickly
 * over the first steps, and moves every shadow toward the parameter's value
 * after the optimizer step: shadow ← shadow − (1 − decay)·(shadow − p).
 */
const f32 = Math.fround;

export interface EmaState {
  /** The decay ceiling as float32 (0.9999 gives 0.99989998340606689453125). */
  decay: number;
  /** Updates done so far; negative turns the warm-up off (the reference's use_num_upates=False). */
  numUpdates: number;
  shadows: Map<string, Float32Array>;
}

export class Ema {
  readonly decay: number;
  numUpdates: number;
  readonly shadows: Map<string, Float32Array>;

  /** Starts from `initial` shadows (copied), e.g. the parameters at the start of training or a checkpoint's `model_ema.*`. */
  constructor(initial: Map<string, Float32Array>, decay = 0.9999, numUpdates = 0) {
    this.decay = f32(decay);
    this.numUpdates = numUpdates;
    this.shadows = new Map([...initial].map(([name, values]) => [name, Float32Array.from(values)]));
  }

  static fromState(state: EmaState): Ema {
    return new Ema(state.shadows, state.decay, state.numUpdates);
  }

  /** Moves the shadows toward `params` (by name) and returns the decay used. */
  update(params: Map<string, Float32Array>): number {
    let decay = this.decay;
    if (this.numUpdates >= 0) {
      this.numUpdates++;
      decay = Math.min(this.decay, f32(f32(1 + this.numUpdates) / f32(10 + this.numUpdates)));
    }
    const oneMinusDecay = f32(1 - decay);
    for (const [name, shadow] of this.shadows) {
      const p = params.get(name);
      if (!p) throw new Error(`EMA: parameter ${name} is missing`);
      for (let i = 0; i < shadow.length; i++) {
        shadow[i] = f32(shadow[i] - f32(oneMinusDecay * f32(shadow[i] - p[i])));
      }
    }
    return decay;
  }

  state(): EmaState {
    return { decay: this.decay, numUpdates: this.numUpdates, shadows: this.shadows };
  }
}
