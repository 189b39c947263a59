/**
 * InceptionV3 as pytorch-fid builds it for FID (`fid_inception_v3`: torchvision's
 * InceptionV3 with the FIDInceptionA/C/E_1/E_2 blocks, which is TensorFlow's
 * 2015-12-05 graph), up to the 2048-d global average pool ("pool3"). Tensors are
 * NCHW float32. Every convolution is a BasicConv2d (conv without bias, BatchNorm
 * with eps 0.001, ReLU). The BatchNorm is folded into the convolution at load
 * time, so a layer runs as one conv2d with bias and one clamp.
 */
import { conv2d } from "../../kernels/conv.ts";
import { clamp } from "../../kernels/elementwise.ts";
import { concat } from "../../kernels/layout.ts";
import { adaptiveAvgPool2d, avgPool2d, maxPool2d } from "../../kernels/pool.ts";
import { release, type Tensor } from "../../gpu/tensor.ts";
import { ParameterList, type Weights } from "../weights.ts";

/** Width of the pool3 features. */
export const INCEPTION_FEATURES = 2048;
/** The input side pytorch-fid resizes every image to. */
export const INCEPTION_INPUT_SIZE = 299;
/** The smallest input side the network accepts: Mixed_7a's stride-2 3×3 convolution needs 3×3 in. */
export const INCEPTION_MIN_INPUT_SIZE = 75;
/** BatchNorm eps of torchvision's BasicConv2d. */
export const BATCH_NORM_EPS = 0.001;

/** One BasicConv2d: its key prefix and geometry. */
export interface BasicConvSpec {
  name: string;
  inChannels: number;
  outChannels: number;
  kernel: [number, number];
  stride: number;
  padding: [number, number];
}

/** Lists every BasicConv2d of the network in module order, with pytorch-fid's key prefixes. */
export function inceptionConvolutions(): BasicConvSpec[] {
  const specs: BasicConvSpec[] = [];
  const conv = (
    name: string,
    inChannels: number,
    outChannels: number,
    kernel: number | [number, number],
    stride = 1,
    padding: number | [number, number] = 0,
  ) => {
    specs.push({
      name,
      inChannels,
      outChannels,
      kernel: typeof kernel === "number" ? [kernel, kernel] : kernel,
      stride,
      padding: typeof padding === "number" ? [padding, padding] : padding,
    });
  };

  conv("Conv2d_1a_3x3", 3, 32, 3, 2);
  conv("Conv2d_2a_3x3", 32, 32, 3);
  conv("Conv2d_2b_3x3", 32, 64, 3, 1, 1);
  conv("Conv2d_3b_1x1", 64, 80, 1);
  conv("Conv2d_4a_3x3", 80, 192, 3);

  const blockA = (name: string, inChannels: number, poolFeatures: number) => {
    conv(`${name}.branch1x1`, inChannels, 64, 1);
    conv(`${name}.branch5x5_1`, inChannels, 48, 1);
    conv(`${name}.branch5x5_2`, 48, 64, 5, 1, 2);
    conv(`${name}.branch3x3dbl_1`, inChannels, 64, 1);
    conv(`${name}.branch3x3dbl_2`, 64, 96, 3, 1, 1);
    conv(`${name}.branch3x3dbl_3`, 96, 96, 3, 1, 1);
    conv(`${name}.branch_pool`, inChannels, poolFeatures, 1);
  };
  blockA("Mixed_5b", 192, 32);
  blockA("Mixed_5c", 256, 64);
  blockA("Mixed_5d", 288, 64);

  conv("Mixed_6a.branch3x3", 288, 384, 3, 2);
  conv("Mixed_6a.branch3x3dbl_1", 288, 64, 1);
  conv("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 1, 1);
  conv("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 2);

  const blockC = (name: string, c7: number) => {
    conv(`${name}.branch1x1`, 768, 192, 1);
    conv(`${name}.branch7x7_1`, 768, c7, 1);
    conv(`${name}.branch7x7_2`, c7, c7, [1, 7], 1, [0, 3]);
    conv(`${name}.branch7x7_3`, c7, 192, [7, 1], 1, [3, 0]);
    conv(`${name}.branch7x7dbl_1`, 768, c7, 1);
    conv(`${name}.branch7x7dbl_2`, c7, c7, [7, 1], 1, [3, 0]);
    conv(`${name}.branch7x7dbl_3`, c7, c7, [1, 7], 1, [0, 3]);
    conv(`${name}.branch7x7dbl_4`, c7, c7, [7, 1], 1, [3, 0]);
    conv(`${name}.branch7x7dbl_5`, c7, 192, [1, 7], 1, [0, 3]);
    conv(`${name}.branch_pool`, 768, 192, 1);
  };
  blockC("Mixed_6b", 128);
  blockC("Mixed_6c", 160);
  blockC("Mixed_6d", 160);
  blockC("Mixed_6e", 192);

  conv("Mixed_7a.branch3x3_1", 768, 192, 1);
  conv("Mixed_7a.branch3x3_2", 192, 320, 3, 2);
  conv("Mixed_7a.branch7x7x3_1", 768, 192, 1);
  conv("Mixed_7a.branch7x7x3_2", 192, 192, [1, 7], 1, [0, 3]);
  conv("Mixed_7a.branch7x7x3_3", 192, 192, [7, 1], 1, [3, 0]);
  conv("Mixed_7a.branch7x7x3_4", 192, 192, 3, 2);

  const blockE = (name: string, inChannels: number) => {
    conv(`${name}.branch1x1`, inChannels, 320, 1);
    conv(`${name}.branch3x3_1`, inChannels, 384, 1);
    conv(`${name}.branch3x3_2a`, 384, 384, [1, 3], 1, [0, 1]);
    conv(`${name}.branch3x3_2b`, 384, 384, [3, 1], 1, [1, 0]);
    conv(`${name}.branch3x3dbl_1`, inChannels, 448, 1);
    conv(`${name}.branch3x3dbl_2`, 448, 384, 3, 1, 1);
    conv(`${name}.branch3x3dbl_3a`, 384, 384, [1, 3], 1, [0, 1]);
    conv(`${name}.branch3x3dbl_3b`, 384, 384, [3, 1], 1, [1, 0]);
    conv(`${name}.branch_pool`, inChannels, 192, 1);
  };
  blockE("Mixed_7b", 1280);
  blockE("Mixed_7c", 2048);
  return specs;
}

/**
 * Lists the parameters a pytorch-fid weight file contains for the pool3 network, with
 * its key names: `NAME.conv.weight` [out, in, kh, kw] and `NAME.bn.{weight, bias,
 * running_mean, running_var}` [out] per BasicConv2d. The file's `fc.*` (the
 * 1008-class classifier) and any `*.num_batches_tracked` are not used.
 */
export function inceptionParameters(): ParameterList {
  const list = new ParameterList();
  for (const spec of inceptionConvolutions()) {
    list.add(`${spec.name}.conv.weight`, [spec.outChannels, spec.inChannels, ...spec.kernel]);
    for (const part of ["weight", "bias", "running_mean", "running_var"]) {
      list.add(`${spec.name}.bn.${part}`, [spec.outChannels]);
    }
  }
  return list;
}

/**
 * The network on folded weights: `NAME.weight` (the convolution scaled by
 * γ/√(σ² + eps) per output channel) and `NAME.bias` (β − μ·γ/√(σ² + eps)).
 */
export class InceptionV3 {
  private readonly specs: Map<string, BasicConvSpec>;

  constructor(readonly weights: Weights) {
    this.specs = new Map(inceptionConvolutions().map((spec) => [spec.name, spec]));
  }

  /**
   * Returns the pool3 features [N, 2048] of x [N, 3, H, W], values already in
   * [-1, 1] (pytorch-fid's `2x − 1` after its resize to 299×299). H and W must
   * be at least 75. Releases nothing it was given.
   */
  pool3(x: Tensor): Tensor {
    if (
      x.shape.length !== 4 || x.shape[1] !== 3 || Math.min(x.shape[2], x.shape[3]) < INCEPTION_MIN_INPUT_SIZE
    ) {
      throw new Error(
        `InceptionV3: expected input [N, 3, H, W] with H, W ≥ ${INCEPTION_MIN_INPUT_SIZE}, got [${x.shape}]`,
      );
    }
    let h = this.chain(x, ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3"]);
    h = this.replace(h, maxPool2d(h, { kernel: 3, stride: 2 }));
    h = this.chain(h, ["Conv2d_3b_1x1", "Conv2d_4a_3x3"], false);
    h = this.replace(h, maxPool2d(h, { kernel: 3, stride: 2 }));

    for (const name of ["Mixed_5b", "Mixed_5c", "Mixed_5d"]) h = this.replace(h, this.inceptionA(h, name));
    h = this.replace(h, this.inceptionB(h, "Mixed_6a"));
    for (const name of ["Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]) {
      h = this.replace(h, this.inceptionC(h, name));
    }
    h = this.replace(h, this.inceptionD(h, "Mixed_7a"));
    h = this.replace(h, this.inceptionE(h, "Mixed_7b", "avg"));
    h = this.replace(h, this.inceptionE(h, "Mixed_7c", "max"));

    const pooled = adaptiveAvgPool2d(h, 1, 1);
    h.release();
    const features = pooled.reshape([x.shape[0], INCEPTION_FEATURES]);
    pooled.release();
    return features;
  }

  /** Runs one BasicConv2d: the folded convolution, then ReLU. */
  basicConv(x: Tensor, name: string): Tensor {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`InceptionV3: no layer ${name}`);
    const [ph, pw] = spec.padding;
    const y = conv2d(x, this.weights.get(`${name}.weight`), this.weights.get(`${name}.bias`), {
      stride: spec.stride,
      padding: [ph, ph, pw, pw],
    });
    const activated = clamp(y, 0, F32_MAX);
    y.release();
    return activated;
  }

  /** FIDInceptionA: 1×1, 5×5 and double 3×3 branches, and a 3×3 average pool that ignores padding. */
  inceptionA(x: Tensor, name: string): Tensor {
    return this.join([
      this.basicConv(x, `${name}.branch1x1`),
      this.chain(x, [`${name}.branch5x5_1`, `${name}.branch5x5_2`]),
      this.chain(x, [`${name}.branch3x3dbl_1`, `${name}.branch3x3dbl_2`, `${name}.branch3x3dbl_3`]),
      this.pooledBranch(x, `${name}.branch_pool`, "avg"),
    ]);
  }

  /** InceptionB (Mixed_6a): stride-2 3×3 and double 3×3 branches, and a stride-2 max pool. */
  inceptionB(x: Tensor, name: string): Tensor {
    return this.join([
      this.basicConv(x, `${name}.branch3x3`),
      this.chain(x, [`${name}.branch3x3dbl_1`, `${name}.branch3x3dbl_2`, `${name}.branch3x3dbl_3`]),
      maxPool2d(x, { kernel: 3, stride: 2 }),
    ]);
  }

  /** FIDInceptionC: factorised 7×7 branches and a 3×3 average pool that ignores padding. */
  inceptionC(x: Tensor, name: string): Tensor {
    return this.join([
      this.basicConv(x, `${name}.branch1x1`),
      this.chain(x, [1, 2, 3].map((i) => `${name}.branch7x7_${i}`)),
      this.chain(x, [1, 2, 3, 4, 5].map((i) => `${name}.branch7x7dbl_${i}`)),
      this.pooledBranch(x, `${name}.branch_pool`, "avg"),
    ]);
  }

  /** InceptionD (Mixed_7a): stride-2 3×3 and factorised 7×7 branches, and a stride-2 max pool. */
  inceptionD(x: Tensor, name: string): Tensor {
    return this.join([
      this.chain(x, [`${name}.branch3x3_1`, `${name}.branch3x3_2`]),
      this.chain(x, [1, 2, 3, 4].map((i) => `${name}.branch7x7x3_${i}`)),
      maxPool2d(x, { kernel: 3, stride: 2 }),
    ]);
  }

  /**
   * FIDInceptionE_1 (pool "avg", padding not counted) and FIDInceptionE_2 (pool
   * "max": TensorFlow's graph max-pools here, and pytorch-fid keeps that).
   */
  inceptionE(x: Tensor, name: string, pool: "avg" | "max"): Tensor {
    const b3 = this.basicConv(x, `${name}.branch3x3_1`);
    const branch3x3 = this.join([
      this.basicConv(b3, `${name}.branch3x3_2a`),
      this.basicConv(b3, `${name}.branch3x3_2b`),
    ]);
    b3.release();
    const d3 = this.chain(x, [`${name}.branch3x3dbl_1`, `${name}.branch3x3dbl_2`]);
    const branch3x3dbl = this.join([
      this.basicConv(d3, `${name}.branch3x3dbl_3a`),
      this.basicConv(d3, `${name}.branch3x3dbl_3b`),
    ]);
    d3.release();
    return this.join([
      this.basicConv(x, `${name}.branch1x1`),
      branch3x3,
      branch3x3dbl,
      this.pooledBranch(x, `${name}.branch_pool`, pool),
    ]);
  }

  /** Runs a 3×3 pool (stride 1, padding 1), then a BasicConv2d. */
  private pooledBranch(x: Tensor, name: string, pool: "avg" | "max"): Tensor {
    const pooled = pool === "avg"
      ? avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false })
      : maxPool2d(x, { kernel: 3, stride: 1, padding: 1 });
    const y = this.basicConv(pooled, name);
    pooled.release();
    return y;
  }

  /** BasicConv2d layers in sequence; the input is released only when `keepInput` is false. */
  private chain(x: Tensor, names: string[], keepInput = true): Tensor {
    let h = x;
    for (const name of names) {
      const next = this.basicConv(h, name);
      if (h !== x || !keepInput) h.release();
      h = next;
    }
    return h;
  }

  /** Concatenates branch outputs on the channel axis and releases them. */
  private join(branches: Tensor[]): Tensor {
    const y = concat(branches, 1);
    release(...branches);
    return y;
  }

  private replace(old: Tensor, next: Tensor): Tensor {
    old.release();
    return next;
  }
}

/** The largest float32, the upper bound of the ReLU clamp. */
const F32_MAX = 3.4028234663852886e38;
