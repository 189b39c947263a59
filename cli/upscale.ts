/**
 * `cheff upscale`: radiographs or an image stream to 4× larger images drawn by
 * the super-resolution diffusion model.
 */
import { CheffError } from "../io/errors.ts";
import {
  DEFAULT_UPSCALE_SIZE,
  noiseFileFor,
  outputSize,
  superResolutionPlugin,
} from "../plugins/super_resolution.ts";
import {
  choiceOption,
  type Command,
  COMMON_HELP,
  intOption,
  numberOption,
  parseOptions,
  stringOption,
} from "./command.ts";
import { checkImageOutputs, readImageInputs, writeImageOutputs } from "./images.ts";
import { cliContext } from "./run_context.ts";

export const upscaleCommand: Command = {
  name: "upscale",
  summary: "super-resolve images 4× with the SR diffusion model",
  help: `Usage: cheff upscale [INPUT...|-] --model CKPT [--config JSON] [--steps N] [--sampler ddim|ddpm]
                     [--eta E] [--clip] [--spacing exact|reference] [--seed S] [--size N] [--noise FILE]
                     [--out FILE|DIR] [--bits 8|16] [--format png|dicom]

Upscales radiographs with the SR3-style super-resolution diffusion model: each
image is upsampled by bicubic interpolation (as PyTorch's, a = -0.75, no
antialiasing) to N×N and conditions a sampler that draws the N×N image.

INPUT is a PNG, JPEG or DICOM radiograph (resized on its shortest side and
centre-cropped to N/4, colour turned into ITU-R 601 luma), or an image stream
[N, 1 or 3, H, W] in [-1, 1], upsampled as it is. '-' or no INPUT reads a stream
or an image from standard input.

Options:
  --model CKPT       super-resolution model (cheff_sr_base.pt, cheff_sr_fine.pt, or a
                     converted .safetensors)
  --config JSON      the U-Net's arguments with the reference's field names ({dim,
                     dim_mults, channels, out_dim, …}, or them under "model" with a
                     "schedule"); default: the file's stored config, else cheff-sr
  --sampler ddim|ddpm  ddim (default) or ancestral ddpm over all 2000 steps
  --steps N          DDIM steps (default 100)
  --eta E            DDIM eta: 0 deterministic (default), 1 as much noise as DDPM
  --clip             DDIM: clamp each step's predicted x0 to [-1, 1] (the reference
                     does not; it steadies briefly trained models)
  --spacing exact|reference
                     DDIM timesteps: exact gives N steps t = floor(i·2000/N) (default);
                     reference takes every floor(2000/N)-th step from 0, as the
                     original code does (more than N steps when N does not divide 2000)
  --seed S           noise seed (default: random, recorded in the output); image i
                     of the run uses seed S + i
  --size N           output side in pixels (default ${DEFAULT_UPSCALE_SIZE}, or the size of --noise's x_T)
  --noise FILE       recorded noise (safetensors): x_T [N, 1, H, W] and noise
                     [steps, N, 1, H, W]; noise may be left out when no step adds any
                     (ddim with eta 0)
  --out FILE|DIR     y.png (numbered for a batch), a folder, or y.safetensors for an
                     image stream (unclamped); default: an image stream on standard output
  --bits 8|16        bits per sample of written images (default 8)
  --format png|dicom
${COMMON_HELP}

Examples:
  cheff upscale chest.png --model cheff_sr_fine.pt --out chest-1024.png
  cheff diffuse --model ldm.pt | cheff decode --model ae.pt | cheff upscale --model cheff_sr_fine.pt --out big.png`,
  async run(args) {
    const parsed = parseOptions("upscale", args, {
      model: { type: "string" },
      config: { type: "string" },
      steps: { type: "string" },
      sampler: { type: "string" },
      eta: { type: "string" },
      clip: { type: "boolean" },
      spacing: { type: "string" },
      seed: { type: "string" },
      size: { type: "string" },
      noise: { type: "string" },
      out: { type: "string" },
      bits: { type: "string" },
      format: { type: "string" },
    });
    const model = stringOption(parsed, "model");
    if (!model) throw new CheffError("upscale: --model is required (see cheff upscale --help)");
    const bits = Number(choiceOption(parsed, "bits", ["8", "16"], "8")) as 8 | 16;
    const format = choiceOption(parsed, "format", ["png", "dicom"], "png");
    const sampler = choiceOption(parsed, "sampler", ["ddim", "ddpm"], "ddim");
    const settings: Record<string, unknown> = {
      model,
      config: stringOption(parsed, "config"),
      sampler,
      spacing: choiceOption(parsed, "spacing", ["exact", "reference"], "exact"),
      eta: numberOption(parsed, "eta", 0, 0, Infinity),
      ...(parsed.values.clip === true ? { clip: true } : {}),
    };
    if (stringOption(parsed, "steps") !== undefined) {
      settings.steps = intOption(parsed, "steps", 100, 1, 2000);
    }
    if (stringOption(parsed, "seed") !== undefined) {
      settings.seed = intOption(parsed, "seed", 0, 0, Number.MAX_SAFE_INTEGER);
    }
    if (stringOption(parsed, "size") !== undefined) {
      settings.size = intOption(parsed, "size", DEFAULT_UPSCALE_SIZE, 4);
    }
    const noisePath = stringOption(parsed, "noise");
    if (noisePath !== undefined) settings.noise = noisePath;

    const context = await cliContext();
    const recorded = noisePath ? await noiseFileFor(noisePath, context) : undefined;
    const [height, width] = outputSize(settings, recorded);
    if (height % 4 !== 0 || width % 4 !== 0) {
      throw new CheffError(
        `upscale: output size ${height}×${width} is not a multiple of 4 (image files are cropped to a quarter of it)`,
      );
    }
    const inputs = parsed.positionals.length > 0 ? parsed.positionals : ["-"];
    const images = await readImageInputs(inputs, { size: Math.min(height, width) / 4, channels: 1 });
    const output = { bits, format, overwrite: parsed.values.overwrite === true };
    checkImageOutputs(images, stringOption(parsed, "out"), output);
    const result = await superResolutionPlugin.run("upscale", images, settings, context);
    await writeImageOutputs(result, stringOption(parsed, "out"), output);
  },
};
