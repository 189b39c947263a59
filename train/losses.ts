/**
 * Training losses on host arrays, each returning the loss and its gradient with
 * respect to the prediction (what `Tape.backward` is seeded with). Sums run in
 * float64; the values the reference reports are float32.
 */

export interface LossWithGradient {
  loss: number;
  grad: Float32Array;
}

/** Mean of (prediction − target)² over every element: the eps-MSE of both diffusion stages. */
export function mseLoss(prediction: Float32Array, target: Float32Array): LossWithGradient {
  checkLengths("mseLoss", prediction, target);
  const n = prediction.length;
  const grad = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = prediction[i] - target[i];
    sum += d * d;
    grad[i] = (2 * d) / n;
  }
  return { loss: Math.fround(sum / n), grad };
}

/**
 * Computes the autoencoder's reconstruction term as the reference's LPIPSWithDiscriminator
 * computes it with its learned log-variance at 0 and no perceptual term:
 * Σ |x − x̂| / batch (a sum over C, H, W, averaged over the batch).
 */
export function l1ReconstructionLoss(
  reconstruction: Float32Array,
  input: Float32Array,
  batch: number,
): LossWithGradient {
  checkLengths("l1ReconstructionLoss", reconstruction, input);
  return perImageSum(reconstruction, input, batch, Math.abs, Math.sign);
}

/**
 * Computes the squared-error reconstruction term Σ (x − x̂)² / batch (a sum over
 * C, H, W, averaged over the batch). Not part of the reference recipe: a
 * decoder fine-tuned on it trades L1's sharper edges for a lower MSE, so a
 * higher PSNR.
 */
export function l2ReconstructionLoss(
  reconstruction: Float32Array,
  input: Float32Array,
  batch: number,
): LossWithGradient {
  checkLengths("l2ReconstructionLoss", reconstruction, input);
  return perImageSum(reconstruction, input, batch, (d) => d * d, (d) => 2 * d);
}

/** Sums term(x̂ − x) over every element, divided by the batch, with the gradient slope(x̂ − x) / batch. */
function perImageSum(
  reconstruction: Float32Array,
  input: Float32Array,
  batch: number,
  term: (d: number) => number,
  slope: (d: number) => number,
): LossWithGradient {
  const grad = new Float32Array(reconstruction.length);
  let sum = 0;
  for (let i = 0; i < reconstruction.length; i++) {
    const d = reconstruction[i] - input[i];
    sum += term(d);
    grad[i] = slope(d) / batch;
  }
  return { loss: Math.fround(sum / batch), grad };
}

export interface KlWithGradients {
  loss: number;
  dMean: Float32Array;
  dLogvar: Float32Array;
}

/**
 * KL divergence of the diagonal Gaussian posterior from N(0, I),
 * 0.5 · Σ (μ² + σ² − 1 − log σ²) over C, H, W, averaged over the batch, times
 * `weight` (the reference's kl_weight, 1e-6 for the Cheff autoencoder).
 */
export function klLoss(
  mean: Float32Array,
  logvar: Float32Array,
  batch: number,
  weight: number,
): KlWithGradients {
  checkLengths("klLoss", mean, logvar);
  const dMean = new Float32Array(mean.length);
  const dLogvar = new Float32Array(mean.length);
  let sum = 0;
  for (let i = 0; i < mean.length; i++) {
    const variance = Math.exp(logvar[i]);
    sum += mean[i] * mean[i] + variance - 1 - logvar[i];
    dMean[i] = (weight * mean[i]) / batch;
    dLogvar[i] = (weight * 0.5 * (variance - 1)) / batch;
  }
  return { loss: Math.fround((weight * 0.5 * sum) / batch), dMean, dLogvar };
}

function checkLengths(op: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`${op}: ${a.length} predictions for ${b.length} targets`);
}
