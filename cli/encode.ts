/**
 * `cheff encode`: radiographs (or an image stream) to a latent stream holding the
 * autoencoder's posterior mean.
 */
import { checkStreamOutput } from "../io/files.ts";
import { writeStream } from "../io/stream.ts";
import { autoencoderFor, autoencoderPlugin } from "../plugins/autoencoder.ts";
import { type Command, COMMON_HELP, parseOptions, stringOption } from "./command.ts";
import { readImageInputs } from "./images.ts";
import { cliContext } from "./run_context.ts";
import { CheffError } from "../io/errors.ts";

export const encodeCommand: Command = {
  name: "encode",
  summary: "encode radiographs to autoencoder latents",
  help: `Usage: cheff encode INPUT... --model CKPT [--config JSON] [--out FILE]

Encodes radiographs to the KL autoencoder's latent space and writes a latent
stream (safetensors; tensor 'latent' [N, C, h, w], the posterior mean, not scaled
by any diffusion model's scale_factor) to --out or standard output.

INPUT is a PNG (8/16-bit, gray, RGB, RGBA, palette), JPEG or DICOM radiograph —
resized on its shortest side and centre-cropped to the model's resolution (256 for
cheff-ae), replicated to 3 channels and scaled to [-1, 1] — or an image stream /
NumPy .npy tensor [N, 3, H, W] in [-1, 1] used as it is; '-' reads a stream from
standard input. Several inputs form one batch.

Options:
  --model CKPT     autoencoder file (.pt, .ckpt or .safetensors; an LDM checkpoint's
                   first_stage_model works too)
  --config JSON    config file with the reference's field names ({embed_dim, ddconfig});
                   default: the file's stored config, else the cheff-ae preset
  --out FILE       latent stream to write (default: standard output)
${COMMON_HELP}

Example:
  cheff encode chest.png --model cheff_autoencoder.pt | cheff decode --model cheff_autoencoder.pt --out roundtrip.png`,
  async run(args) {
    const parsed = parseOptions("encode", args, { model: { type: "string" }, config: { type: "string" }, out: { type: "string" } });
    const model = stringOption(parsed, "model");
    if (!model) throw new CheffError("encode: --model is required (see cheff encode --help)");
    const out = stringOption(parsed, "out");
    checkStreamOutput(out, { overwrite: parsed.values.overwrite === true });
    const context = await cliContext();
    const settings = { model, config: stringOption(parsed, "config") };
    const { model: autoencoder } = await autoencoderFor(settings, context);
    const images = await readImageInputs(parsed.positionals, {
      size: autoencoder.config.resolution,
      channels: autoencoder.config.inChannels === 1 ? 1 : 3,
    });
    const latent = await autoencoderPlugin.run("encode", images, settings, context);
    await writeStream(latent, out, { overwrite: parsed.values.overwrite === true });
  },
};
