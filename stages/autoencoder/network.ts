/**
 * The KL autoencoder of latent diffusion (CompVis `AutoencoderKL`), as Cheff
 * uses it: an encoder to a diagonal Gaussian posterior over latents, and a
 * decoder back to images. Tensors are NCHW float32; every 3×3 convolution has
 * stride 1 and padding 1 unless said otherwise; GroupNorm has 32 groups and
 * eps 1e-6 throughout.
 */
import { attention, clamp, conv2d, groupNorm, permute, slice, upsampleNearest2x } from "../../kernels/grad/ops.ts";
import type { Tensor } from "../../gpu/tensor.ts";
import { ParameterList, type Weights } from "../weights.ts";
import type { AutoencoderConfig } from "./config.ts";

const GROUPS = 32;
const EPS = 1e-6;

/** Every parameter the config implies, with the reference's key names. */
export function autoencoderParameters(config: AutoencoderConfig): ParameterList {
  const list = new ParameterList();
  const { ch, chMult, numResBlocks, zChannels, embedDim } = config;
  const levels = chMult.length;

  const resBlock = (name: string, cin: number, cout: number) => {
    list.norm(`${name}.norm1`, cin);
    list.conv(`${name}.conv1`, cin, cout, 3);
    list.norm(`${name}.norm2`, cout);
    list.conv(`${name}.conv2`, cout, cout, 3);
    if (cin !== cout) list.conv(`${name}.nin_shortcut`, cin, cout, 1);
  };
  const attnBlock = (name: string, c: number) => {
    list.norm(`${name}.norm`, c);
    for (const part of ["q", "k", "v", "proj_out"]) list.conv(`${name}.${part}`, c, c, 1);
  };

  // Encoder.
  list.conv("encoder.conv_in", config.inChannels, ch, 3);
  let resolution = config.resolution;
  let blockIn = ch;
  for (let i = 0; i < levels; i++) {
    const blockOut = ch * chMult[i];
    for (let j = 0; j < numResBlocks; j++) {
      resBlock(`encoder.down.${i}.block.${j}`, blockIn, blockOut);
      blockIn = blockOut;
      if (config.attnResolutions.includes(resolution)) attnBlock(`encoder.down.${i}.attn.${j}`, blockIn);
    }
    if (i !== levels - 1) {
      list.conv(`encoder.down.${i}.downsample.conv`, blockIn, blockIn, 3);
      resolution /= 2;
    }
  }
  resBlock("encoder.mid.block_1", blockIn, blockIn);
  attnBlock("encoder.mid.attn_1", blockIn);
  resBlock("encoder.mid.block_2", blockIn, blockIn);
  list.norm("encoder.norm_out", blockIn);
  list.conv("encoder.conv_out", blockIn, 2 * zChannels, 3);

  // Decoder.
  blockIn = ch * chMult[levels - 1];
  list.conv("decoder.conv_in", zChannels, blockIn, 3);
  resBlock("decoder.mid.block_1", blockIn, blockIn);
  attnBlock("decoder.mid.attn_1", blockIn);
  resBlock("decoder.mid.block_2", blockIn, blockIn);
  for (let i = levels - 1; i >= 0; i--) {
    const blockOut = ch * chMult[i];
    for (let j = 0; j < numResBlocks + 1; j++) {
      resBlock(`decoder.up.${i}.block.${j}`, blockIn, blockOut);
      blockIn = blockOut;
      if (config.attnResolutions.includes(resolution)) attnBlock(`decoder.up.${i}.attn.${j}`, blockIn);
    }
    if (i !== 0) {
      list.conv(`decoder.up.${i}.upsample.conv`, blockIn, blockIn, 3);
      resolution *= 2;
    }
  }
  list.norm("decoder.norm_out", blockIn);
  list.conv("decoder.conv_out", blockIn, config.outChannels, 3);

  list.conv("quant_conv", 2 * zChannels, 2 * embedDim, 1);
  list.conv("post_quant_conv", embedDim, zChannels, 1);
  return list;
}

/** The encoder's diagonal Gaussian posterior: mean and log-variance (clamped to [−30, 20]). */
export interface Posterior {
  mean: Tensor;
  logvar: Tensor;
}

export class Autoencoder {
  constructor(readonly config: AutoencoderConfig, readonly weights: Weights) {}

  /** Frees the uploaded weights. */
  release(): void {
    this.weights.release();
  }

  /** Encodes images [N, in_channels, H, W] in [-1, 1] to the posterior over latents [N, embed_dim, H/f, W/f]. */
  encode(x: Tensor): Posterior {
    const { config } = this;
    const levels = config.chMult.length;
    let h = this.conv("encoder.conv_in", x);
    let resolution = config.resolution;
    for (let i = 0; i < levels; i++) {
      for (let j = 0; j < config.numResBlocks; j++) {
        h = this.replace(h, this.resBlock(`encoder.down.${i}.block.${j}`, h));
        if (config.attnResolutions.includes(resolution)) {
          h = this.replace(h, this.attnBlock(`encoder.down.${i}.attn.${j}`, h));
        }
      }
      if (i !== levels - 1) {
        h = this.replace(h, this.downsample(`encoder.down.${i}.downsample`, h));
        resolution /= 2;
      }
    }
    h = this.middle("encoder", h);
    h = this.replace(h, this.normSwish("encoder.norm_out", h));
    h = this.replace(h, this.conv("encoder.conv_out", h));

    const moments = this.conv("quant_conv", h);
    h.release();
    const mean = slice(moments, 1, 0, config.embedDim);
    const rawLogvar = slice(moments, 1, config.embedDim, 2 * config.embedDim);
    moments.release();
    const logvar = clampLogvar(rawLogvar);
    rawLogvar.release();
    return { mean, logvar };
  }

  /**
   * Decodes latents [N, embed_dim, h, w] to images [N, out_ch, h·f, w·f] (no clamping).
   * `lastLayerInput`, when given, receives a view of decoder.conv_out's input, which it
   * releases (training weighs the adversarial loss by gradients at that layer).
   */
  decode(z: Tensor, lastLayerInput?: (h: Tensor) => void): Tensor {
    const { config } = this;
    const levels = config.chMult.length;
    let h = this.conv("post_quant_conv", z);
    h = this.replace(h, this.conv("decoder.conv_in", h));
    h = this.middle("decoder", h);
    let resolution = config.resolution / 2 ** (levels - 1);
    for (let i = levels - 1; i >= 0; i--) {
      for (let j = 0; j < config.numResBlocks + 1; j++) {
        h = this.replace(h, this.resBlock(`decoder.up.${i}.block.${j}`, h));
        if (config.attnResolutions.includes(resolution)) {
          h = this.replace(h, this.attnBlock(`decoder.up.${i}.attn.${j}`, h));
        }
      }
      if (i !== 0) {
        h = this.replace(h, this.upsample(`decoder.up.${i}.upsample`, h));
        resolution *= 2;
      }
    }
    h = this.replace(h, this.normSwish("decoder.norm_out", h));
    lastLayerInput?.(h.reshape(h.shape));
    return this.replace(h, this.conv("decoder.conv_out", h));
  }

  /** block_1 → attn_1 → block_2 at the deepest level. */
  private middle(part: "encoder" | "decoder", x: Tensor): Tensor {
    let h = this.replace(x, this.resBlock(`${part}.mid.block_1`, x));
    h = this.replace(h, this.attnBlock(`${part}.mid.attn_1`, h));
    return this.replace(h, this.resBlock(`${part}.mid.block_2`, h));
  }

  /** ResnetBlock: norm1 → swish → conv1 → norm2 → swish → conv2, plus the (1×1-projected) input. */
  private resBlock(name: string, x: Tensor): Tensor {
    let h = this.normSwish(`${name}.norm1`, x);
    h = this.replace(h, this.conv(`${name}.conv1`, h));
    h = this.replace(h, this.normSwish(`${name}.norm2`, h));
    const shortcut = this.weights.has(`${name}.nin_shortcut.weight`) ? this.conv(`${name}.nin_shortcut`, x) : x;
    const out = conv2d(h, this.weights.get(`${name}.conv2.weight`), this.weights.get(`${name}.conv2.bias`), {
      padding: 1,
      residual: shortcut,
    });
    h.release();
    if (shortcut !== x) shortcut.release();
    return out;
  }

  /**
   * Single-head self-attention over the H·W positions with C channels:
   * x + proj_out(softmax(q kᵀ / √C) v), q, k, v being 1×1 convolutions of GroupNorm(x).
   */
  private attnBlock(name: string, x: Tensor): Tensor {
    const [n, c, height, width] = x.shape;
    const h = groupNorm(x, GROUPS, this.weights.get(`${name}.norm.weight`), this.weights.get(`${name}.norm.bias`), EPS);
    const tokens = (part: string) => {
      const projected = this.conv(`${name}.${part}`, h);
      const flat = projected.reshape([n, c, height * width]);
      const t = permute(flat, [0, 2, 1]);
      flat.release();
      projected.release();
      return t;
    };
    const q = tokens("q"), k = tokens("k"), v = tokens("v");
    h.release();
    const o = attention(q, k, v, 1 / Math.sqrt(c));
    q.release();
    k.release();
    v.release();
    const channelsFirst = permute(o, [0, 2, 1]);
    o.release();
    const image = channelsFirst.reshape([n, c, height, width]);
    channelsFirst.release();
    const out = conv2d(image, this.weights.get(`${name}.proj_out.weight`), this.weights.get(`${name}.proj_out.bias`), {
      residual: x,
    });
    image.release();
    return out;
  }

  /** Pads right and bottom by one, then a 3×3 stride-2 convolution without padding. */
  private downsample(name: string, x: Tensor): Tensor {
    return conv2d(x, this.weights.get(`${name}.conv.weight`), this.weights.get(`${name}.conv.bias`), {
      stride: 2,
      padding: [0, 1, 0, 1],
    });
  }

  /** Nearest ×2, then a 3×3 convolution. */
  private upsample(name: string, x: Tensor): Tensor {
    const up = upsampleNearest2x(x);
    const out = this.conv(`${name}.conv`, up);
    up.release();
    return out;
  }

  private normSwish(name: string, x: Tensor): Tensor {
    return groupNorm(x, GROUPS, this.weights.get(`${name}.weight`), this.weights.get(`${name}.bias`), EPS, {
      silu: true,
    });
  }

  /** A convolution with "same" padding for its kernel size. */
  private conv(name: string, x: Tensor): Tensor {
    const w = this.weights.get(`${name}.weight`);
    return conv2d(x, w, this.weights.get(`${name}.bias`), { padding: (w.shape[2] - 1) / 2 });
  }

  /** Releases `old` (unless it is the result) and returns `result`: h = replace(h, f(h)). */
  private replace(old: Tensor, result: Tensor): Tensor {
    if (old !== result) old.release();
    return result;
  }
}

/** Clamps log-variances to [−30, 20] as the reference's DiagonalGaussianDistribution does. */
function clampLogvar(logvar: Tensor): Tensor {
  return clamp(logvar, -30, 20);
}
