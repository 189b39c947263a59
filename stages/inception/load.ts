/**
 * Loading pytorch-fid's InceptionV3 weights (`pt_inception-2015-12-05-6726825d.pth`,
 * a plain state dict, in the PyTorch zip or the legacy pre-1.6 format) or the same
 * keys converted to safetensors, with every BatchNorm folded into its convolution.
 */
import type { Gpu } from "../../gpu/device.ts";
import { matchKeys } from "../../io/checkpoint/keys.ts";
import type { HostTensor } from "../../io/safetensors.ts";
import { readModelFile } from "../load.ts";
import { Weights } from "../weights.ts";
import { BATCH_NORM_EPS, inceptionConvolutions, inceptionParameters, InceptionV3 } from "./network.ts";

export interface LoadedInception {
  model: InceptionV3;
  sha256: string;
}

/** Reads a weight file in pytorch-fid's key layout, folds the BatchNorms and uploads the result. */
export async function loadInception(
  gpu: Gpu | undefined,
  path: string,
  options: { note?: (message: string) => void } = {},
): Promise<LoadedInception> {
  const file = await readModelFile(path);
  // BatchNorm's step counter carries no weights; files saved by PyTorch ≥ 0.4.1 have one per layer.
  const state = new Map<string, HostTensor>();
  for (const [key, tensor] of file.state) if (!key.endsWith(".num_batches_tracked")) state.set(key, tensor);

  const match = matchKeys(inceptionParameters().shapes, state, {
    ignorePrefixes: ["fc.", "AuxLogits."],
    source: path,
    stage: "InceptionV3 (pytorch-fid layout)",
  });
  if (match.summary) options.note?.(match.summary);
  return { model: new InceptionV3(Weights.upload(gpu, foldBatchNorms(match.tensors))), sha256: file.sha256 };
}

/**
 * Folds y = γ·(conv(x) − μ)/√(σ² + eps) + β into one convolution with bias, in
 * float64: weight·s and β − μ·s per output channel, s = γ/√(σ² + eps), eps 0.001.
 */
export function foldBatchNorms(tensors: Map<string, HostTensor>): Map<string, HostTensor> {
  const folded = new Map<string, HostTensor>();
  const values = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`foldBatchNorms: missing ${name}`);
    return t.data as ArrayLike<number>;
  };
  for (const spec of inceptionConvolutions()) {
    const weightTensor = tensors.get(`${spec.name}.conv.weight`)!;
    const weight = values(`${spec.name}.conv.weight`);
    const gamma = values(`${spec.name}.bn.weight`);
    const beta = values(`${spec.name}.bn.bias`);
    const mean = values(`${spec.name}.bn.running_mean`);
    const variance = values(`${spec.name}.bn.running_var`);
    const perChannel = weight.length / spec.outChannels;
    const w = new Float32Array(weight.length);
    const b = new Float32Array(spec.outChannels);
    for (let o = 0; o < spec.outChannels; o++) {
      const scale = Number(gamma[o]) / Math.sqrt(Number(variance[o]) + BATCH_NORM_EPS);
      for (let i = o * perChannel; i < (o + 1) * perChannel; i++) w[i] = Number(weight[i]) * scale;
      b[o] = Number(beta[o]) - Number(mean[o]) * scale;
    }
    folded.set(`${spec.name}.weight`, { dtype: "F32", shape: weightTensor.shape, data: w });
    folded.set(`${spec.name}.bias`, { dtype: "F32", shape: [spec.outChannels], data: b });
  }
  return folded;
}
