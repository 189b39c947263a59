/**
 * The autoencoder's perceptual loss: LPIPS (Zhang et al. 2018) on VGG16
 * features, as taming-transformers' `LPIPS` computes it for
 * `LPIPSWithDiscriminator`. Both images are shifted and scaled per channel (the
 * `scaling_layer`) and run through VGG16's convolutions up to relu5_3. They are
 * compared at five taps (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3). At each
 * tap the features are divided by their channel norm (+ 1e-10), and the squared
 * differences are weighted per channel by the tap's 1×1 head (`linK`) and
 * averaged over positions. The five taps' sums give one distance per image.
 *
 * VGG16 runs on the kernels with a tape, so the distance's gradient reaches the
 * reconstruction. The heads run on the host in float64. Nothing here is trained.
 * The weights come from a file: the released Cheff autoencoder checkpoint contains
 * them under `loss.perceptual_loss.`.
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { loadWeights, stateDict } from "../io/checkpoint/load.ts";
import { CheffError } from "../io/errors.ts";
import type { HostTensor } from "../io/safetensors.ts";
import { Weights } from "../stages/weights.ts";
import { Tape } from "./autograd.ts";
import { add, concat, conv2d, maxPool2d, mul, relu } from "./ops.ts";

/** VGG16's convolutions by their index in torchvision's `features`, one list per slice (tap). */
export const VGG16_SLICES = [[0, 2], [5, 7], [10, 12, 14], [17, 19, 21], [24, 26, 28]] as const;

/** The smallest image side VGG16's four 2×2 max-pools leave a pixel of. */
export const LPIPS_MIN_SIZE = 16;

/** The scaling layer's constants when the file has none (LPIPS's ImageNet statistics in [-1, 1]). */
const DEFAULT_SHIFT = [-0.030, -0.088, -0.188];
const DEFAULT_SCALE = [0.458, 0.448, 0.450];

/** Key prefixes under which a file may contain the LPIPS weights, most specific first. */
const PREFIXES = ["loss.perceptual_loss.", "perceptual_loss.", ""];

/** Lists the parameters LPIPS reads, named as taming's module names them, for a VGG16 whose convolutions have `widths`. */
export function lpipsParameters(widths: readonly number[], inChannels = 3): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let cin = inChannels;
  let layer = 0;
  for (const [k, convs] of VGG16_SLICES.entries()) {
    for (const index of convs) {
      const cout = widths[layer++];
      shapes.set(`net.slice${k + 1}.${index}.weight`, [cout, cin, 3, 3]);
      shapes.set(`net.slice${k + 1}.${index}.bias`, [cout]);
      cin = cout;
    }
    shapes.set(`lin${k}.model.1.weight`, [1, cin, 1, 1]);
  }
  return shapes;
}

/** One image pair's distance per image, and the gradient of their sum with respect to the reconstruction. */
export interface PerceptualDistance {
  perImage: number[];
  grad: Tensor;
}

export class Lpips {
  private constructor(
    private readonly weights: Weights,
    /** The five 1×1 heads' channel weights, read once for the host-side distance. */
    private readonly heads: Float32Array[],
    private readonly shift: Tensor,
    private readonly inverseScale: Tensor,
  ) {}

  /**
   * Builds LPIPS from weights by module name (`net.sliceK.N.*`, `linK.model.1.weight`, optional
   * `scaling_layer.*`); `keyPrefix` is what the names carry in the file, for messages.
   */
  static fromTensors(
    gpu: Gpu | undefined,
    tensors: Map<string, HostTensor>,
    source: string,
    keyPrefix = "",
  ): Lpips {
    const first = tensors.get("net.slice1.0.weight");
    if (!first || first.shape.length !== 4) {
      throw new CheffError(`${source}: no LPIPS VGG16 weights (expected net.slice1.0.weight [64, 3, 3, 3])`);
    }
    const widths = VGG16_SLICES.flatMap((convs, k) =>
      convs.map((index) => {
        const name = `net.slice${k + 1}.${index}.weight`;
        const w = tensors.get(name);
        if (!w) throw new CheffError(`${source}: missing the LPIPS VGG16 weight ${name}`);
        return w.shape[0];
      })
    );
    const expected = lpipsParameters(widths, first.shape[1]);
    if (first.shape[1] !== 3) {
      throw new CheffError(
        `${source}: net.slice1.0.weight takes ${first.shape[1]} channels; LPIPS's VGG16 takes 3`,
      );
    }
    const picked = new Map<string, HostTensor>();
    for (const [name, shape] of expected) {
      const t = tensors.get(name);
      if (!t) throw new CheffError(`${source}: missing the LPIPS weight ${name}`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        // The widths come from the convolution weights, so the message names the weight that set them.
        const conv = name.endsWith(".bias") ? name.replace(/bias$/, "weight") : undefined;
        const cause = conv ? ` (${conv} has ${shape[0]} output channels)` : "";
        throw new CheffError(`${source}: ${name} has shape [${t.shape}], expected [${shape}]${cause}`);
      }
      if (!Array.from(t.data as ArrayLike<number>).every(Number.isFinite)) {
        throw new CheffError(`${source}: ${keyPrefix}${name} contains a NaN or infinite value`);
      }
      picked.set(name, t);
    }
    const constant = (name: string, fallback: number[]): Tensor => {
      const t = tensors.get(`scaling_layer.${name}`);
      if (t && t.data.length !== 3) {
        throw new CheffError(`${source}: scaling_layer.${name} has ${t.data.length} values, expected 3`);
      }
      const values = t ? Array.from(t.data as ArrayLike<number>, Number) : fallback;
      return Tensor.from(
        gpu,
        [1, 3, 1, 1],
        Float32Array.from(name === "scale" ? values.map((v) => 1 / v) : values),
      );
    };
    const heads = VGG16_SLICES.map((_, k) =>
      Float32Array.from(picked.get(`lin${k}.model.1.weight`)!.data as ArrayLike<number>, Number)
    );
    return new Lpips(
      Weights.upload(gpu, picked),
      heads,
      constant("shift", DEFAULT_SHIFT),
      constant("scale", DEFAULT_SCALE),
    );
  }

  /** Reads LPIPS from a model file (.pt or .safetensors) with its weights under one of the known prefixes. */
  static async load(gpu: Gpu | undefined, path: string): Promise<Lpips> {
    // Only the weights are needed, so the file is not hashed (the run's settings hash it once).
    const file = { state: stateDict(await loadWeights(path), path) };
    const base = PREFIXES.find((prefix) => file.state.has(prefix + "net.slice1.0.weight"));
    if (base === undefined) {
      throw new CheffError(
        `${path}: no LPIPS weights; expected loss.perceptual_loss.net.slice1.0.weight (as in the released Cheff autoencoder), perceptual_loss.net.slice1.0.weight or net.slice1.0.weight`,
      );
    }
    const tensors = new Map<string, HostTensor>();
    for (const [key, t] of file.state) if (key.startsWith(base)) tensors.set(key.slice(base.length), t);
    return Lpips.fromTensors(gpu, tensors, path, base);
  }

  /** Computes the five tap features of images [N, 1 or 3, H, W] in [-1, 1], recorded on the active tape. */
  features(x: Tensor): Tensor[] {
    const rgb = x.shape[1] === 1 ? concat([x, x, x], 1) : x;
    const shifted = add(rgb, this.shift, 1, -1);
    if (rgb !== x) rgb.release();
    let h = mul(shifted, this.inverseScale);
    shifted.release();
    const taps: Tensor[] = [];
    for (const [k, convs] of VGG16_SLICES.entries()) {
      if (k > 0) h = replace(h, maxPool2d(h, { kernel: 2, stride: 2 }));
      for (const index of convs) {
        const w = this.weights.get(`net.slice${k + 1}.${index}.weight`);
        const b = this.weights.get(`net.slice${k + 1}.${index}.bias`);
        const y = conv2d(h, w, b, { padding: 1 });
        h.release();
        h = relu(y);
        y.release();
      }
      taps.push(h.reshape(h.shape));
    }
    h.release();
    return taps;
  }

  /** Measures the distance between `input` and `reconstruction` per image, with d(Σ distances)/d reconstruction. */
  async distance(input: Tensor, reconstruction: Tensor): Promise<PerceptualDistance> {
    const reference = this.features(input);
    const tape = new Tape();
    tape.watch(reconstruction);
    const taps = tape.run(() => this.features(reconstruction));
    const n = input.shape[0];
    const perImage = new Array<number>(n).fill(0);
    const seeds: [Tensor, Tensor][] = [];
    const values = await Tensor.readAll([...reference, ...taps]);
    for (const [k, tap] of taps.entries()) {
      const { distances, grad } = tapDistance(values[k], values[k + taps.length], this.heads[k], tap.shape);
      distances.forEach((d, i) => perImage[i] += d);
      seeds.push([tap, Tensor.from(input.gpu, tap.shape, grad)]);
    }
    const grads = tape.backwardMany(seeds);
    const grad = grads.get(reconstruction);
    if (!grad) throw new Error("Lpips.distance: no gradient reached the reconstruction");
    const owned = grad.reshape(grad.shape);
    grad.release();
    grads.release();
    tape.release();
    for (const t of [...reference, ...taps, ...seeds.map(([, s]) => s)]) t.release();
    return { perImage, grad: owned };
  }

  release(): void {
    this.weights.release();
    this.shift.release();
    this.inverseScale.release();
  }
}

/**
 * Computes one tap's distance per image, Σ_c w_c (x̂_c − x_c)² averaged over positions,
 * where x = f / (‖f‖ + 1e-10) with the norm over channels, and the gradient of
 * the distances' sum with respect to the reconstruction's features. Where all of
 * a reconstruction feature's channels are 0 (nothing passed the ReLU) the
 * gradient is set to 0: the derivative there is 1e10 or, in PyTorch, NaN.
 */
export function tapDistance(
  inputFeatures: Float32Array,
  reconstructionFeatures: Float32Array,
  head: Float32Array,
  shape: readonly number[],
): { distances: number[]; grad: Float32Array } {
  const [n, channels, height, width] = shape;
  const positions = height * width;
  const eps = 1e-10;
  const distances = new Array<number>(n).fill(0);
  const grad = new Float32Array(reconstructionFeatures.length);
  const x = new Float64Array(channels), y = new Float64Array(channels), g = new Float64Array(channels);
  for (let image = 0; image < n; image++) {
    let sum = 0;
    for (let p = 0; p < positions; p++) {
      const at = (c: number) => (image * channels + c) * positions + p;
      let normX = 0, normY = 0;
      for (let c = 0; c < channels; c++) {
        x[c] = inputFeatures[at(c)];
        y[c] = reconstructionFeatures[at(c)];
        normX += x[c] * x[c];
        normY += y[c] * y[c];
      }
      normX = Math.sqrt(normX);
      normY = Math.sqrt(normY);
      let dot = 0;
      for (let c = 0; c < channels; c++) {
        const difference = y[c] / (normY + eps) - x[c] / (normX + eps);
        sum += head[c] * difference * difference;
        // d/dŷ_c of the position's term, divided by the positions it is averaged over.
        g[c] = (2 * head[c] * difference) / positions;
        dot += g[c] * y[c];
      }
      if (normY === 0) continue;
      // Through ŷ = f / (‖f‖ + eps): df_j = g_j / (‖f‖ + eps) − f_j · (g·f) / (‖f‖ (‖f‖ + eps)²).
      const denominator = normY + eps;
      for (let c = 0; c < channels; c++) {
        grad[at(c)] = g[c] / denominator - (y[c] * dot) / (normY * denominator * denominator);
      }
    }
    distances[image] = sum / positions;
  }
  return { distances, grad };
}

/** Releases `old` and returns `result`. */
function replace(old: Tensor, result: Tensor): Tensor {
  old.release();
  return result;
}
