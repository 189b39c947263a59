/**
 * The autoencoder plugin: `encode` (image stream → latent stream, the posterior
 * mean) and `decode` (latent stream → image stream). Images are run one at a
 * time so GPU memory stays that of a single image.
 */
import { shapeString, Tensor } from "../gpu/tensor.ts";
import { CheffError } from "../io/errors.ts";
import { continueStream, type Stream } from "../io/stream.ts";
import { type LoadedAutoencoder, loadAutoencoder } from "../stages/autoencoder/load.ts";
import { downsamplingFactor } from "../stages/autoencoder/config.ts";
import type { RunContext } from "./context.ts";
import type { Plugin } from "./plugin.ts";

export interface AutoencoderSettings {
  model: string;
  config?: string;
}

/** Loads (once per context) the autoencoder named by the settings. */
export function autoencoderFor(settings: Record<string, unknown>, context: RunContext): Promise<LoadedAutoencoder> {
  const model = settings.model;
  if (typeof model !== "string") throw new CheffError("autoencoder: 'model' must name a model file");
  const config = settings.config as string | undefined;
  return context.models.get(`autoencoder:${model}:${config ?? ""}`, () =>
    loadAutoencoder(context.gpu, model, { configPath: config, note: context.warn }));
}

async function encode(input: Stream, settings: Record<string, unknown>, context: RunContext): Promise<Stream> {
  const { model, sha256 } = await autoencoderFor(settings, context);
  const [n, c, h, w] = input.tensor.shape;
  const f = downsamplingFactor(model.config);
  if (c !== model.config.inChannels) {
    throw new CheffError(`${input.source ?? "input"}: image stream has ${c} channels, the autoencoder expects ${model.config.inChannels}`);
  }
  if (h % f !== 0 || w % f !== 0) throw new CheffError(`${input.source ?? "input"}: image size ${h}×${w} is not divisible by the autoencoder's factor ${f}`);
  const latentShape = [n, model.config.embedDim, h / f, w / f];
  const itemIn = c * h * w, itemOut = latentShape[1] * latentShape[2] * latentShape[3];
  const latent = new Float32Array(n * itemOut);
  context.progress?.("encode", 0, n, "image");
  for (let i = 0; i < n; i++) {
    const x = Tensor.from(context.gpu, [1, c, h, w], input.tensor.data.subarray(i * itemIn, (i + 1) * itemIn));
    const posterior = model.encode(x);
    x.release();
    latent.set(await posterior.mean.read(), i * itemOut);
    posterior.mean.release();
    posterior.logvar.release();
    context.progress?.("encode", i + 1, n, "image");
  }
  return continueStream(input, "latent", { shape: latentShape, data: latent }, { command: "encode" }, {
    models: { autoencoder: sha256 },
  });
}

async function decode(input: Stream, settings: Record<string, unknown>, context: RunContext): Promise<Stream> {
  const { model, sha256 } = await autoencoderFor(settings, context);
  const [n, c, h, w] = input.tensor.shape;
  if (c !== model.config.embedDim) {
    throw new CheffError(
      `${input.source ?? "input"}: expected a latent stream of shape [N, ${model.config.embedDim}, h, w], got ${shapeString(input.tensor.shape)}`,
    );
  }
  const f = downsamplingFactor(model.config);
  const imageShape = [n, model.config.outChannels, h * f, w * f];
  const itemIn = c * h * w, itemOut = imageShape[1] * imageShape[2] * imageShape[3];
  const image = new Float32Array(n * itemOut);
  context.progress?.("decode", 0, n, "image");
  for (let i = 0; i < n; i++) {
    const z = Tensor.from(context.gpu, [1, c, h, w], input.tensor.data.subarray(i * itemIn, (i + 1) * itemIn));
    const x = model.decode(z);
    z.release();
    image.set(await x.read(), i * itemOut);
    x.release();
    context.progress?.("decode", i + 1, n, "image");
  }
  return continueStream(input, "image", { shape: imageShape, data: image }, { command: "decode" }, {
    models: { autoencoder: sha256 },
  });
}

export const autoencoderPlugin: Plugin = {
  name: "autoencoder",
  description: "KL autoencoder: images ⇄ latents",
  kinds: {
    encode: { takes: ["image"], gives: "latent" },
    decode: { takes: ["latent"], gives: "image" },
  },
  presets: ["cheff-ae"],
  async inputSize(_kind, settings, context) {
    const { model } = await autoencoderFor(settings, context);
    return { size: model.config.resolution, channels: model.config.inChannels === 1 ? 1 : 3 };
  },
  run(kind, input, settings, context) {
    if (!input) throw new CheffError(`autoencoder ${kind}: needs an input stream`);
    if (kind === "encode") return encode(input, settings, context);
    if (kind === "decode") return decode(input, settings, context);
    throw new CheffError(`autoencoder: unknown kind '${kind}', expected encode or decode`);
  },
};
