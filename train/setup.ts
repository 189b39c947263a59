/**
 * Builds what a training run needs from its settings. The networks are loaded
 * through the inference stages' loaders, or made from a config with fresh
 * weights. The trainable parameters carry the reference checkpoints' key names.
 * Each recipe provides one training step and the export of a model file that the
 * inference stages load as they are.
 */
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { loadWeights, stateDict } from "../io/checkpoint/load.ts";
import { CheffError } from "../io/errors.ts";
import { resizeShortSideAndCenterCrop } from "../io/image/resize.ts";
import type { HostTensor } from "../io/safetensors.ts";
import { splitRows } from "../kernels/embedding.ts";
import { parseAutoencoderConfig } from "../stages/autoencoder/config.ts";
import { loadAutoencoder } from "../stages/autoencoder/load.ts";
import { Autoencoder, autoencoderParameters } from "../stages/autoencoder/network.ts";
import { parseLatentDiffusionConfig } from "../stages/latent/config.ts";
import { AUTOENCODER_PREFIX, emaKey, loadUNet, UNET_PREFIX } from "../stages/latent/load.ts";
import { UNet, unetParameters } from "../stages/latent/unet.ts";
import { type LoadedModelFile, readModelFile } from "../stages/load.ts";
import { PRESETS } from "../stages/presets.ts";
import { latentSchedule } from "../stages/schedules/latent.ts";
import { srCosineSchedule } from "../stages/schedules/cosine.ts";
import { parseSuperResolutionConfig } from "../stages/superres/config.ts";
import { loadSuperResolution } from "../stages/superres/load.ts";
import { superResolutionParameters, SuperResolutionUnet } from "../stages/superres/network.ts";
import { TextEncoder, textEncoderParameters, TOKEN_TABLE } from "../stages/text/encoder.ts";
import { loadTextEncoder, TEXT_ENCODER_WEIGHTS_PREFIX } from "../stages/text/load.ts";
import { tokenize } from "../stages/text/tokenizer.ts";
import { type ParameterList, Weights } from "../stages/weights.ts";
import type { Gradients, Tape } from "./autograd.ts";
import type { Batch } from "./data.ts";
import {
  DISCRIMINATOR_PREFIX,
  discriminatorMinSize,
  discriminatorParameters,
  initialDiscriminatorWeights,
  PatchDiscriminator,
} from "./discriminator.ts";
import type { Ema } from "./ema.ts";
import { Lpips, LPIPS_MIN_SIZE } from "./lpips.ts";
import type { TrainSettings } from "./pipeline.ts";
import { autoencoderStep, drawPosteriorNoise } from "./recipes/autoencoder.ts";
import { drawLatentNoise, latentDiffusionStep } from "./recipes/latent.ts";
import { drawSuperResolutionNoise, superResolutionStep } from "./recipes/superres.ts";
import type { Trainable } from "./optim.ts";
import { PosteriorCache } from "./posterior_cache.ts";
import type { RecordedDraws } from "./recorded_draws.ts";
import { standardNormal, uniformStream } from "./random.ts";
import type { ModelTensor } from "./state.ts";

export interface StepOutcome {
  loss: number;
  grads: Gradients;
  /** Extra loss terms for the log. */
  terms?: Record<string, number>;
}

export interface TrainingSetup {
  /** Trainable parameters by checkpoint key name. */
  trainable: Map<string, Trainable>;
  /** The trainable parameters that get an EMA shadow. */
  emaNames: string[];
  /** The EMA's shadows and update count at the start, when the model file carries them (else the parameters, 0). */
  emaStart?: { shadows: Map<string, Float32Array>; numUpdates: number };
  /** Input images: side, channels, and whether every sample needs a report. */
  imageSize: number;
  channels: 1 | 3;
  requireReports: boolean;
  /** Runs one step on `batch` (images already decoded) for training step `step`. */
  step(tape: Tape, batch: Batch, step: number): Promise<StepOutcome>;
  /** The model file's tensors (reference key names) and config, from the current parameters and EMA. */
  exportModel(
    params: Map<string, Float32Array>,
    ema: Ema | undefined,
  ): { tensors: Map<string, ModelTensor>; config: unknown };
  release(): void;
}

/**
 * Fresh weights for a parameter list, as PyTorch initialises its layers by
 * default: weights and biases of convolutions and linear layers uniform in
 * ±1/√fan_in, norm weights 1 and biases 0, embedding tables N(0, 1)
 * (Box–Muller on a seeded mulberry32 stream, not Philox).
 */
export function initialWeights(list: ParameterList, seed: number): Map<string, HostTensor> {
  const random = uniformStream(seed);
  const out = new Map<string, HostTensor>();
  const fanIn = new Map<string, number>();
  for (const [name, shape] of list.shapes) {
    if (name.endsWith(".weight") && shape.length >= 2) {
      fanIn.set(
        name.slice(0, -".weight".length),
        shape.slice(1).reduce((a, d) => a * d, 1),
      );
    }
  }
  for (const [name, shape] of list.shapes) {
    const size = shape.reduce((a, d) => a * d, 1);
    const data = new Float32Array(size);
    const module = name.slice(0, name.lastIndexOf("."));
    const isEmbedding = /(^|\.)(token_emb|emb)\.weight$/.test(name) || name.endsWith("pos_emb.emb.weight");
    if (isEmbedding) {
      for (let i = 0; i < size; i++) {
        data[i] = standardNormal(random);
      }
    } else if (fanIn.has(module)) {
      const bound = 1 / Math.sqrt(fanIn.get(module)!);
      for (let i = 0; i < size; i++) data[i] = (2 * random() - 1) * bound;
    } else if (name.endsWith(".weight")) {
      data.fill(1);
    }
    out.set(name, { dtype: "F32", shape: [...shape], data });
  }
  return out;
}

function tensorsOf(
  weights: Weights,
  prefix: string,
  skip: (name: string) => boolean = () => false,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of weights.tensors) {
    if (name.includes("#") || skip(name)) continue;
    out.set(prefix + name, t);
  }
  return out;
}

async function hostValues(tensors: Map<string, Tensor>, prefix: string): Promise<Map<string, ModelTensor>> {
  const out = new Map<string, ModelTensor>();
  for (const [name, t] of tensors) {
    out.set(prefix + name, { shape: t.shape, data: t.isGpu ? await t.read() : t.data });
  }
  return out;
}

function withValues(
  trainable: Map<string, Trainable>,
  params: Map<string, Float32Array>,
  names: Iterable<string>,
) {
  const out = new Map<string, ModelTensor>();
  for (const name of names) out.set(name, { shape: trainable.get(name)!.shape, data: params.get(name)! });
  return out;
}

/**
 * Runs a stage loader for training, where a missing config goes into the train
 * section rather than a --config option.
 */
async function withConfigAdvice<T>(
  load: () => Promise<T>,
  advice = 'give the train section a "config"',
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (error instanceof CheffError && error.message.endsWith("pass --config FILE")) {
      throw new CheffError(error.message.replace(/pass --config FILE$/, advice));
    }
    throw error;
  }
}

/** Returns the raw config to store in an exported model: the pipeline's, the file's own, or the preset the loader matched. */
async function rawConfig(settings: TrainSettings, configSource: string | undefined): Promise<unknown> {
  if (settings.config !== undefined) return settings.config;
  if (settings.model) {
    const file = await readModelFile(settings.model);
    if (file.loaded.config !== undefined) return file.loaded.config;
  }
  return configSource ? PRESETS[configSource] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function imageTensor(gpu: Gpu | undefined, batch: Batch): Tensor {
  return Tensor.from(gpu, batch.shape, batch.images);
}

function imageIndices(batch: Batch): number[] {
  return batch.samples.map((_, i) => batch.position + i);
}

/** Options for loading the networks and for the random draws. */
export interface SetupOptions {
  /** The largest row chunk of a loaded token table, in bytes (default: the adapter's storage binding limit). */
  tableChunkBytes?: number;
  /** Latent diffusion: recorded draws that replace the seeded ones. */
  draws?: RecordedDraws;
}

/** Loads or creates the networks for `settings` on `gpu` (the host when undefined). */
export async function createSetup(
  gpu: Gpu | undefined,
  settings: TrainSettings,
  options: SetupOptions = {},
): Promise<TrainingSetup> {
  switch (settings.recipe) {
    case "autoencoder":
      return await autoencoderSetup(gpu, settings);
    case "latent-diffusion":
      return await latentSetup(gpu, settings, options);
    case "super-resolution":
      return await superResolutionSetup(gpu, settings);
  }
}

async function autoencoderSetup(gpu: Gpu | undefined, settings: TrainSettings): Promise<TrainingSetup> {
  let config, weights: Weights, configSource: string | undefined;
  if (settings.model) {
    const loaded = await withConfigAdvice(() => loadAutoencoder(gpu, settings.model!, { config: settings.config }));
    ({ config, weights } = loaded.model);
    configSource = loaded.configSource;
  } else {
    config = parseAutoencoderConfig(settings.config, "$.train.config");
    weights = Weights.upload(gpu, initialWeights(autoencoderParameters(config), settings.seed));
  }
  const network = new Autoencoder(config, weights);
  const raw = await rawConfig(settings, configSource);
  // A frozen encoder keeps the latents as they are: its weights are exported unchanged, and each
  // image's posterior is computed once (unless flips make one image two inputs).
  const frozen = settings.trainEncoder === false
    ? (name: string) => /^(encoder|quant_conv)\./.test(name)
    : () => false;
  const trainable = tensorsOf(weights, "", frozen);
  const autoencoderNames = [...trainable.keys()];
  const frozenValues = await hostValues(tensorsOf(weights, "", (name) => !frozen(name)), "");
  const posteriors = settings.trainEncoder === false && !settings.flip
    ? new PosteriorCache(gpu, network)
    : undefined;
  if (settings.perceptual && settings.imageSize < LPIPS_MIN_SIZE) {
    throw new CheffError(
      `${settings.pipeline}: $.train.image_size: LPIPS's VGG16 halves the image four times, so it needs at least ${LPIPS_MIN_SIZE} px; got ${settings.imageSize}`,
    );
  }
  if (settings.discriminator) {
    const minimum = discriminatorMinSize(settings.discriminator.layers);
    if (settings.imageSize < minimum) {
      throw new CheffError(
        `${settings.pipeline}: $.train.image_size: a discriminator with disc_num_layers ${settings.discriminator.layers} needs images of at least ${minimum} px; got ${settings.imageSize}`,
      );
    }
  }
  const lpips = settings.perceptual ? await Lpips.load(gpu, settings.perceptual) : undefined;
  const discriminator = settings.discriminator
    ? await discriminatorFor(gpu, settings, config.inChannels)
    : undefined;
  // The discriminator's parameters train beside the autoencoder's: Adam treats each
  // parameter on its own, so one optimizer over both equals the reference's two
  // optimizers with the same settings.
  for (const [name, t] of discriminator?.weights.tensors ?? []) trainable.set(DISCRIMINATOR_PREFIX + name, t);
  return {
    trainable,
    emaNames: settings.ema ? autoencoderNames : [],
    imageSize: settings.imageSize,
    channels: config.inChannels === 1 ? 1 : 3,
    requireReports: false,
    async step(tape, batch, step) {
      const images = imageTensor(gpu, batch);
      const frozenEncoder = settings.trainEncoder !== false
        ? undefined
        : posteriors
        ? await posteriors.encoderFor(batch)
        : network;
      const result = await autoencoderStep(
        tape,
        network,
        images,
        (latentSize) => drawPosteriorNoise(settings.seed, step, imageIndices(batch), latentSize),
        {
          klWeight: settings.klWeight,
          reconstructionLoss: settings.reconstructionLoss,
          frozenEncoder,
          perceptual: lpips ? { lpips, weight: settings.perceptualWeight! } : undefined,
          adversarial: discriminator
            ? {
              discriminator,
              weight: settings.discriminator!.weight,
              active: step >= settings.discriminator!.start,
              lastLayer: weights.get("decoder.conv_out.weight"),
            }
            : undefined,
        },
      );
      images.release();
      const terms: Record<string, number> = { rec: result.reconstructionLoss, kl: result.klLoss };
      if (result.perceptualLoss !== undefined) terms.p = result.perceptualLoss;
      if (result.adversarial) {
        terms.g = result.adversarial.generatorLoss;
        terms.d_weight = result.adversarial.weight;
        terms.disc = result.adversarial.discriminatorLoss;
      }
      return { loss: result.loss, grads: result.grads, terms };
    },
    exportModel(params) {
      const tensors = new Map([...frozenValues, ...withValues(trainable, params, trainable.keys())]);
      return { tensors, config: raw };
    },
    release: () => {
      weights.release();
      lpips?.release();
      discriminator?.weights.release();
    },
  };
}

/**
 * Builds the discriminator training starts from: the model file's `loss.discriminator.*`
 * weights when it has them (as the reference's autoencoder checkpoints do), else
 * fresh ones from the run's seed.
 */
async function discriminatorFor(
  gpu: Gpu | undefined,
  settings: TrainSettings,
  inChannels: number,
): Promise<PatchDiscriminator> {
  const config = { inChannels, ndf: settings.discriminator!.ndf, layers: settings.discriminator!.layers };
  const expected = discriminatorParameters(config);
  if (settings.model) {
    // Only the weights are needed here, so the file is not hashed again.
    const file = { state: stateDict(await loadWeights(settings.model), settings.model) };
    const present = [...expected.keys()].filter((name) => file.state.has(DISCRIMINATOR_PREFIX + name));
    if (present.length > 0) {
      for (const [name, shape] of expected) {
        const found = file.state.get(DISCRIMINATOR_PREFIX + name);
        if (found && !Array.from(found.data as ArrayLike<number>).every(Number.isFinite)) {
          throw new CheffError(
            `${settings.model}: ${DISCRIMINATOR_PREFIX}${name} contains a NaN or infinite value`,
          );
        }
        if (!found || found.shape.length !== shape.length || found.shape.some((d, i) => d !== shape[i])) {
          throw new CheffError(
            `${settings.model}: ${DISCRIMINATOR_PREFIX}${name} is ${
              found ? `[${found.shape}]` : "missing"
            }, ` +
              `expected [${shape}] for disc_ndf ${config.ndf} and disc_num_layers ${config.layers}`,
          );
        }
      }
      const host = new Map(
        [...expected.keys()].map((name) => [name, file.state.get(DISCRIMINATOR_PREFIX + name)!]),
      );
      return PatchDiscriminator.upload(gpu, config, host);
    }
  }
  return PatchDiscriminator.upload(gpu, config, initialDiscriminatorWeights(config, settings.seed + 2));
}

async function latentSetup(
  gpu: Gpu | undefined,
  settings: TrainSettings,
  options: SetupOptions,
): Promise<TrainingSetup> {
  let ldm, unetWeights: Weights, configSource: string | undefined;
  // The U-Net, the text encoder and the EMA come from one reading of the model file.
  const modelFile = settings.model ? await readModelFile(settings.model) : undefined;
  if (modelFile) {
    const loaded = await withConfigAdvice(() => loadUNet(gpu, modelFile, { config: settings.config }));
    ldm = loaded.config;
    unetWeights = loaded.model.weights;
    configSource = loaded.configSource;
  } else {
    ldm = parseLatentDiffusionConfig(settings.config, "$.train.config");
    unetWeights = Weights.upload(gpu, initialWeights(unetParameters(ldm.unet), settings.seed));
  }
  const unet = new UNet(ldm.unet, unetWeights);

  // The frozen first stage runs the inference network: nothing of it is watched, so nothing is recorded.
  const aeSource = settings.autoencoder ?? settings.model;
  if (!aeSource) {
    throw new CheffError(
      "$.train.autoencoder: a latent-diffusion run from fresh weights needs an autoencoder file",
    );
  }
  const { model: autoencoder } = await withConfigAdvice(
    () => loadAutoencoder(gpu, aeSource, { config: settings.autoencoder ? undefined : ldm.firstStage }),
    "store one in it first (cheff convert FILE --out NEW.safetensors --config CONFIG.json)",
  );

  let textEncoder: InstanceType<typeof TextEncoder> | undefined;
  let textWeights: Weights | undefined;
  let tokenTable: Trainable | undefined;
  if (ldm.textEncoder) {
    if (modelFile) {
      const loaded = await withConfigAdvice(() =>
        loadTextEncoder(gpu, modelFile, { config: settings.config, tableChunkBytes: options.tableChunkBytes })
      );
      textWeights = loaded.model.weights;
      // Row chunks when the table exceeds one storage binding: the optimizer treats them as one parameter.
      tokenTable = loaded.model.tokenTable;
    } else {
      const host = initialWeights(textEncoderParameters(ldm.textEncoder), settings.seed + 1);
      const table = host.get(TOKEN_TABLE)!;
      host.delete(TOKEN_TABLE);
      textWeights = Weights.upload(gpu, host);
      const [rows, width] = table.shape;
      tokenTable = gpu
        ? splitRows(gpu, [rows, width], table.data as Float32Array, options.tableChunkBytes)
        : Tensor.host(table.shape, table.data as Float32Array);
    }
    textEncoder = new TextEncoder(ldm.textEncoder, textWeights, tokenTable);
  }

  const trainable: Map<string, Trainable> = tensorsOf(unetWeights, UNET_PREFIX);
  const unetNames = [...trainable.keys()];
  if (textWeights) {
    for (const [name, t] of tensorsOf(textWeights, TEXT_ENCODER_WEIGHTS_PREFIX, (n) => n === TOKEN_TABLE)) {
      trainable.set(name, t);
    }
    trainable.set(TEXT_ENCODER_WEIGHTS_PREFIX + TOKEN_TABLE, tokenTable!);
  }
  const schedule = latentSchedule(ldm.schedule);
  const firstStage = await hostValues(tensorsOf(autoencoder.weights, ""), AUTOENCODER_PREFIX);
  let raw = await rawConfig(settings, configSource);
  // The model file carries the first stage's weights, so its config carries the first stage's config too:
  // then the file alone serves encode and decode, as the reference's checkpoints do.
  if (settings.autoencoder && isPlainObject(raw) && raw.first_stage_config === undefined) {
    const aeFile = await readModelFile(settings.autoencoder);
    if (aeFile.loaded.config !== undefined) raw = { ...raw, first_stage_config: aeFile.loaded.config };
  }
  const maxLength = ldm.textEncoder?.maxSeqLen ?? 0;
  const posteriors = settings.flip ? undefined : new PosteriorCache(gpu, autoencoder);

  return {
    trainable,
    // Only the U-Net has an EMA, as in the reference (the text encoder is trained but has no shadow).
    emaNames: settings.ema ? unetNames : [],
    emaStart: settings.ema && modelFile ? checkpointEma(modelFile, unetNames) : undefined,
    imageSize: settings.imageSize,
    channels: 3,
    requireReports: ldm.textEncoder !== undefined,
    async step(tape, batch, step) {
      const images = imageTensor(gpu, batch);
      const side = settings.imageSize / 2 ** (autoencoder.config.chMult.length - 1);
      const latentSize = ldm.unet.inChannels * side * side;
      const draws = options.draws
        ? options.draws.forStep(step, batch.samples.length, [ldm.unet.inChannels, side, side], schedule.timesteps)
        : drawLatentNoise(settings.seed, step, imageIndices(batch), latentSize, schedule.timesteps);
      let reports: Int32Array | undefined;
      if (textEncoder) {
        reports = new Int32Array(batch.samples.length * maxLength);
        for (const [i, sample] of batch.samples.entries()) {
          reports.set(tokenize(sample.report ?? "", { length: maxLength }).ids, i * maxLength);
        }
      }
      // Without flips an image always gives the same posterior, so it is encoded once per run.
      const encoder = posteriors ? await posteriors.encoderFor(batch) : autoencoder;
      const result = await latentDiffusionStep(
        tape,
        {
          autoencoder: encoder,
          unet,
          textEncoder,
          scaleFactor: ldm.scaleFactor,
          sqrtAlphasCumprod: schedule.sqrtAlphasCumprod,
          sqrtOneMinusAlphasCumprod: schedule.sqrtOneMinusAlphasCumprod,
        },
        images,
        draws,
        reports,
      );
      images.release();
      return { loss: result.loss, grads: result.grads };
    },
    exportModel(params, ema) {
      const tensors = withValues(trainable, params, trainable.keys());
      for (const [name, t] of firstStage) tensors.set(name, t);
      if (ema) {
        for (const name of unetNames) {
          tensors.set(emaKey(name.slice(UNET_PREFIX.length)), {
            shape: trainable.get(name)!.shape,
            data: ema.shadows.get(name)!,
          });
        }
        tensors.set("model_ema.decay", { shape: [], data: Float32Array.of(ema.decay) });
        tensors.set("model_ema.num_updates", { shape: [], data: Float32Array.of(ema.numUpdates) });
      }
      return { tensors, config: raw };
    },
    release() {
      unetWeights.release();
      textWeights?.release();
      // The token table is held apart from the other text-encoder weights (it may be in row chunks).
      tokenTable?.release();
      autoencoder.release();
    },
  };
}

/**
 * Reads the EMA a model file carries (`model_ema.*` for every U-Net parameter and
 * `model_ema.num_updates`). Training continues it, as the reference does after
 * loading a checkpoint. Returns undefined when the file has none.
 */
function checkpointEma(file: LoadedModelFile, unetNames: string[]): TrainingSetup["emaStart"] {
  const count = file.state.get("model_ema.num_updates");
  if (!count) return undefined;
  const shadows = new Map<string, Float32Array>();
  for (const name of unetNames) {
    const t = file.state.get(emaKey(name.slice(UNET_PREFIX.length)));
    if (!t) return undefined;
    shadows.set(
      name,
      t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number),
    );
  }
  return { shadows, numUpdates: Number((count.data as ArrayLike<number | bigint>)[0]) };
}

async function superResolutionSetup(gpu: Gpu | undefined, settings: TrainSettings): Promise<TrainingSetup> {
  let config, weights: Weights, configSource: string | undefined;
  if (settings.model) {
    const loaded = await withConfigAdvice(() => loadSuperResolution(gpu, settings.model!, { config: settings.config }));
    ({ config, weights } = loaded.model);
    configSource = loaded.configSource;
  } else {
    config = parseSuperResolutionConfig(settings.config, "$.train.config");
    weights = Weights.upload(gpu, initialWeights(superResolutionParameters(config), settings.seed));
  }
  const network = new SuperResolutionUnet(config, weights);
  const schedule = srCosineSchedule(config.schedule);
  const raw = await rawConfig(settings, configSource);
  const trainable = tensorsOf(weights, "");
  const { imageSize, lowResSize, cropSize } = settings;
  const factor = 2 ** (config.dimMults.length - 1);
  if (cropSize !== undefined && cropSize % factor !== 0) {
    throw new CheffError(
      `$.train.crop_size: the network halves the image ${
        config.dimMults.length - 1
      } times, so a crop side must be a multiple of ${factor}; got ${cropSize}, set crop_size to a multiple of ${factor}`,
    );
  }
  return {
    trainable,
    emaNames: settings.ema ? [...trainable.keys()] : [],
    imageSize,
    channels: 1,
    requireReports: false,
    async step(tape, batch, step) {
      // The low-resolution input is the same image reduced by cheff's loader filter (antialiased bilinear).
      const n = batch.samples.length;
      const low = new Float32Array(n * lowResSize * lowResSize);
      for (let i = 0; i < n; i++) {
        const high = batch.images.subarray(i * imageSize * imageSize, (i + 1) * imageSize * imageSize);
        low.set(reduce(high, imageSize, lowResSize), i * lowResSize * lowResSize);
      }
      const highTensor = imageTensor(gpu, batch);
      const lowTensor = Tensor.from(gpu, [n, 1, lowResSize, lowResSize], low);
      const draws = drawSuperResolutionNoise(
        settings.seed,
        step,
        imageIndices(batch),
        (cropSize ?? imageSize) ** 2,
        schedule.timesteps,
        cropSize === undefined ? undefined : { size: cropSize, side: imageSize },
      );
      const result = await superResolutionStep(
        tape,
        network,
        highTensor,
        lowTensor,
        draws,
        schedule.sqrtAlphasCumprod,
        schedule.sqrtOneMinusAlphasCumprod,
      );
      highTensor.release();
      lowTensor.release();
      return { loss: result.loss, grads: result.grads };
    },
    exportModel(params) {
      return { tensors: withValues(trainable, params, trainable.keys()), config: raw };
    },
    release: () => weights.release(),
  };
}

/** Reduces a square [-1, 1] image to `size` with the image loader's antialiased bilinear filter. */
function reduce(image: Float32Array, from: number, size: number): Float32Array {
  const gray = { width: from, height: from, data: image.map((v) => (v + 1) / 2) };
  const small = resizeShortSideAndCenterCrop(gray, size);
  return small.data.map((v) => 2 * v - 1);
}
