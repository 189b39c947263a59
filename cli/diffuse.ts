/**
 * `cheff diffuse`: samples latents from noise, or inpaints an encoded image under
 * a mask, with a latent-diffusion checkpoint; writes a latent stream.
 */
import { CheffError } from "../io/errors.ts";
import { checkStreamOutput, readInput } from "../io/files.ts";
import { readStream, type Stream, writeStream } from "../io/stream.ts";
import { latentDiffusionPlugin } from "../plugins/latent_diffusion.ts";
import {
  choiceOption,
  type Command,
  COMMON_HELP,
  intOption,
  numberOption,
  type Parsed,
  parseOptions,
  stringOption,
} from "./command.ts";
import { cliContext } from "./run_context.ts";

export const diffuseCommand: Command = {
  name: "diffuse",
  summary: "sample or inpaint latents with a latent diffusion model",
  help: `Usage: cheff diffuse [LATENT|-] --model CKPT [options]

Without LATENT, samples --count latents from noise. With LATENT (a latent stream
file, or '-' for standard input) and --mask, inpaints it: the mask's white
region is synthesised and its black region kept. A latent without a mask is an
error. Writes a latent stream (autoencoder space, as 'cheff encode' gives and
'cheff decode' takes) to --out or standard output.

Model:
  --model CKPT        latent-diffusion checkpoint (cheff_diff_uncond.pt, cheff_diff_t2i.pt,
                      a converted .safetensors file)
  --config JSON       config file (a whole ldm_config, with scale_factor); default: the
                      file's stored config, else the preset whose shapes match
  --ema               sample with the stored EMA weights instead of the raw ones

Sampler:
  --sampler ddim|ddpm   DDIM (default) or ancestral DDPM
  --steps N           sampling steps (default 100 for DDIM; every timestep, 1000, for DDPM,
                      which respaces its schedule for fewer)
  --spacing exact|reference   exact: N steps for any N from 1 to 1000 (default);
                      reference: the original code's grid (every ⌊1000/N⌋-th step + 1),
                      more steps than N when N does not divide 1000, at most 500
  --eta E             DDIM's η: 0 deterministic, 1 (default) the DDPM-like variance
  --seed S            noise seed, an integer from 0 to 2^64 − 1; image i uses S + i
                      (default: a random seed, recorded in the stream's history)
  --count N           images to sample from noise (default 1)
  --noise FILE        replay recorded noise instead of seeded draws: a safetensors file
                      with x_T [N,C,h,w], noise [S,N,C,h,w] (per step, in sampling order)
                      and, for inpainting, q_noise [S,N,C,h,w]; values in the model's
                      scaled latent space (z·scale_factor)

Conditioning (report-conditioned models):
  --report TEXT       radiology report (repeat for one report per image); truncated to 150
                      tokens with a warning
  --report-file FILE  read the report from a file (the whole file is one report)
  --context FILE      a context stream from 'cheff embed' instead of a report
  --guidance G        classifier-free guidance scale: eps = eps_u + G·(eps_c − eps_u) with the
                      empty report as eps_u (default 1, no guidance)

Inpainting:
  --mask FILE         PNG/JPEG/DICOM mask (gray ≥ 128 = white = synthesise, black = keep) at the
                      image's size (max-pooled to the latent's) or the latent's size, or a
                      safetensors file with 'mask' [N,1,h,w] holding 0 (keep) and 1 (synthesise)
  --invert-mask       outpainting: synthesise the black region and keep the white one
  --no-final-blend    do not set the kept region to the original latent after the last step
                      (replays the original code, whose result differs there)

Output:
  --out FILE          latent stream to write (default: standard output)
${COMMON_HELP}

Examples:
  cheff diffuse --model cheff_diff_uncond.pt --seed 7 --count 4 | cheff decode --model cheff_autoencoder.pt --out sample.png
  cheff diffuse --model cheff_diff_t2i.pt --report "Small left pleural effusion." --guidance 3 --out z.safetensors
  cheff encode chest.png --model cheff_autoencoder.pt | cheff diffuse - --model cheff_diff_uncond.pt --mask lung.png \\
    | cheff decode --model cheff_autoencoder.pt --out inpainted.png`,

  async run(args) {
    const parsed = parseOptions(
      "diffuse",
      args,
      {
        model: { type: "string" },
        config: { type: "string" },
        ema: { type: "boolean" },
        sampler: { type: "string" },
        steps: { type: "string" },
        spacing: { type: "string" },
        eta: { type: "string" },
        seed: { type: "string" },
        count: { type: "string" },
        noise: { type: "string" },
        report: { type: "string", multiple: true },
        "report-file": { type: "string" },
        context: { type: "string" },
        guidance: { type: "string" },
        mask: { type: "string" },
        "invert-mask": { type: "boolean" },
        "no-final-blend": { type: "boolean" },
        out: { type: "string" },
      },
      1,
    );
    const model = stringOption(parsed, "model");
    if (!model) throw new CheffError("diffuse: --model is required (see cheff diffuse --help)");
    const settings = await diffuseSettings(parsed, model);
    const out = stringOption(parsed, "out");
    const overwrite = parsed.values.overwrite === true;
    checkStreamOutput(out, { overwrite });

    const inputPath = parsed.positionals[0];
    if (inputPath !== undefined && settings.count !== undefined) {
      throw new CheffError("diffuse: --count applies when sampling from noise; an inpainting run takes its count from the latent stream");
    }
    if (inputPath === undefined && settings.mask !== undefined) {
      throw new CheffError("diffuse: --mask needs a latent to inpaint (cheff encode IMAGE | cheff diffuse - --mask MASK …)");
    }
    if (inputPath !== undefined && settings.mask === undefined) {
      throw new CheffError(
        "diffuse: a latent was given without --mask; give --mask to inpaint it, or no latent to sample from noise",
      );
    }
    const input: Stream | undefined = inputPath === undefined ? undefined : await readStream(inputPath, "latent");
    const context = await cliContext();
    const latent = await latentDiffusionPlugin.run("diffuse", input, settings, context);
    await writeStream(latent, out, { overwrite });
  },
};

/** Builds the plugin settings from the command line, checking every value before any model loads. */
async function diffuseSettings(parsed: Parsed, model: string): Promise<Record<string, unknown>> {
  const settings: Record<string, unknown> = {
    model,
    config: stringOption(parsed, "config"),
    ema: parsed.values.ema === true,
    sampler: choiceOption(parsed, "sampler", ["ddim", "ddpm"], "ddim"),
    spacing: choiceOption(parsed, "spacing", ["exact", "reference"], "exact"),
    eta: numberOption(parsed, "eta", 1, 0),
    guidance: numberOption(parsed, "guidance", 1, -1000, 1000),
    invertMask: parsed.values["invert-mask"] === true,
    finalBlend: parsed.values["no-final-blend"] !== true,
  };
  if (stringOption(parsed, "steps") !== undefined) settings.steps = intOption(parsed, "steps", 100, 1, 1000);
  if (stringOption(parsed, "count") !== undefined) settings.count = intOption(parsed, "count", 1, 1);
  for (const name of ["mask", "noise", "context"]) {
    const value = stringOption(parsed, name);
    if (value !== undefined) settings[name] = value;
  }

  const seed = stringOption(parsed, "seed");
  if (seed !== undefined) {
    if (!/^\d+$/.test(seed) || BigInt(seed) >= 1n << 64n) {
      throw new CheffError(`--seed: invalid value '${seed}', expected an integer from 0 to 2^64 − 1`);
    }
    settings.seed = BigInt(seed) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seed) : seed;
  }
  if (seed !== undefined && settings.noise !== undefined) {
    throw new CheffError("diffuse: give --seed or --noise, not both (--noise replaces every seeded draw)");
  }

  const reports = (parsed.values.report as string[] | undefined) ?? [];
  const reportFile = stringOption(parsed, "report-file");
  if (reportFile !== undefined) {
    if (reports.length > 0) throw new CheffError("diffuse: give --report or --report-file, not both");
    reports.push(await readReportFile(reportFile));
  }
  if (reports.length > 0 && settings.context !== undefined) {
    throw new CheffError("diffuse: give a report or --context, not both");
  }
  if (reports.length > 0) settings.report = reports.length === 1 ? reports[0] : reports;
  return settings;
}

/** Reads a report file as UTF-8 text ('-' reads standard input). */
export async function readReportFile(path: string): Promise<string> {
  const bytes = await readInput(path);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).trim();
  } catch {
    throw new CheffError(`${path === "-" ? "standard input" : path}: the report is not UTF-8 text`);
  }
}
