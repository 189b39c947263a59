/**
 * cheff as a library: the stages of the Cheff cascade (KL autoencoder, latent
 * diffusion U-Net with its text encoder, SR3 super-resolution), the streams
 * they exchange, the plugin registry and the pipeline runner. Every network
 * runs as WGSL compute shaders on WebGPU, or on the host with the plain
 * TypeScript reference kernels when given host tensors.
 *
 * @example
 * ```ts
 * import { getGpu, loadAutoencoder, Tensor } from "./mod.ts";
 * const gpu = await getGpu();
 * const { model } = await loadAutoencoder(gpu, "weights/test/autoencoder.safetensors");
 * const x = Tensor.from(gpu, [1, 3, 64, 64], new Float32Array(3 * 64 * 64));
 * const { mean } = model.encode(x);
 * console.log(await mean.read());
 * ```
 *
 * Synthetic radiographs are for research, not for diagnosis.
 */

// Runtime.
export { chooseAdapter, getGpu, Gpu, GpuError } from "./gpu/device.ts";
export { Tensor } from "./gpu/tensor.ts";
export { CheffError } from "./io/errors.ts";

// Files and streams.
export { loadWeights, sha256File, stateDict } from "./io/checkpoint/load.ts";
export { parseSafetensors, serializeSafetensors } from "./io/safetensors.ts";
export { continueStream, parseStream, readStream, serializeStream, type Stream, type StreamKind, writeStream } from "./io/stream.ts";
export { decodeImage, imageToModelInput, loadImage } from "./io/image/load.ts";
export { encodePng, readPngText } from "./io/image/write.ts";
export { loadDicom } from "./io/dicom/read.ts";
export { encodeSecondaryCapture } from "./io/dicom/write.ts";

// Stages.
export { PRESETS } from "./stages/presets.ts";
export { Autoencoder } from "./stages/autoencoder/network.ts";
export { loadAutoencoder } from "./stages/autoencoder/load.ts";
export { UNet } from "./stages/latent/unet.ts";
export { loadUNet } from "./stages/latent/load.ts";
export { sampleLatent } from "./stages/latent/sampler.ts";
export { TextEncoder } from "./stages/text/encoder.ts";
export { loadTextEncoder } from "./stages/text/load.ts";
export { tokenize } from "./stages/text/tokenizer.ts";
export { normals } from "./stages/noise/philox.ts";
export { latentSchedule } from "./stages/schedules/latent.ts";
export { srCosineSchedule } from "./stages/schedules/cosine.ts";

// Plugins and pipelines.
export type { Plugin } from "./plugins/plugin.ts";
export { getPlugin } from "./plugins/registry.ts";
export { ModelCache, type RunContext } from "./plugins/context.ts";
export { loadPipeline } from "./plugins/pipeline.ts";
export { runGeneration } from "./plugins/generate.ts";

// Metrics.
export { msSsim, mse, psnr, ssim } from "./metrics/image.ts";
export { fid, kid } from "./metrics/distribution.ts";
export { nearestBySsim } from "./metrics/memorisation.ts";
export { autoencoderFeatureSpace, inceptionFeatureSpace } from "./stages/features.ts";
export { loadInception } from "./stages/inception/load.ts";

// Training.
export { runTraining } from "./train/runner.ts";
