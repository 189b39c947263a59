/**
 * `cheff train`: trains a stage from the `train` section of a pipeline file,
 * saving a resumable state and a loadable model file every `save_every` steps.
 */
import { getGpu } from "../gpu/device.ts";
import { CheffError } from "../io/errors.ts";
import { readTrainPipeline } from "../train/pipeline.ts";
import { RecordedDraws } from "../train/recorded_draws.ts";
import { LOG_FILE, MODEL_FILE, runTraining } from "../train/runner.ts";
import { type Command, COMMON_HELP, intOption, parseOptions, stringOption } from "./command.ts";
import { note, Progress } from "./common.ts";

export const trainCommand: Command = {
  name: "train",
  summary: "train a stage from a pipeline file",
  help:
    `Usage: cheff train PIPELINE.json [--resume] [--data INDEX] [--out DIR] [--models DIR] [--steps N] [--cpu]
                   [--draws FILE]

Trains the autoencoder, a latent-diffusion U-Net (with its text encoder when
report-conditioned) or the super-resolution U-Net, as the pipeline file's
"train" section says (recipe, starting model or config, data, batch size,
steps, learning rate, optimizer, EMA, seed, save_every, output folder).
Autoencoder fine-tuning may freeze the encoder ("train_encoder": false) and
use a squared-error reconstruction term ("reconstruction_loss": "l2"). The
reference's perceptual term needs LPIPS weights: "perceptual" names a model
in "models" that holds them (the released Cheff autoencoder checkpoint does),
weighted by "perceptual_weight" (default 1). "disc_start": N adds the patch
discriminator after N steps, with "disc_weight" (default 0.5, Cheff's),
"disc_ndf" (64) and "disc_num_layers" (3); it trains beside the autoencoder
and is saved in the model file under loss.discriminator.*. LPIPS needs images
of at least 16 px, the discriminator 24 px with 3 layers (12 px with 2). Any
recipe may
lower its learning rate after given step counts ("lr_milestones": [400],
"lr_gamma": 0.25 divides it by 4 from step 401 on).

Every save_every steps, and at the end, the output folder gets:
  state.safetensors  parameters, optimizer moments, EMA, step, data position
                     and seed, written atomically (a killed run loses at most
                     the steps since the last save)
  state.json         the same step, position and seed, for reading
  ${MODEL_FILE}  the trained model with the reference's key names and its
                     config, for --model of encode, decode, diffuse and upscale
and each step appends a JSON line to ${LOG_FILE} (step, loss, lr, gradNorm,
imagesPerSecond, secondsLeft, and the recipe's terms: rec, kl, p, g, d_weight
and disc for the autoencoder). Progress goes to stderr.

A new run needs a new or empty output folder. An output folder that holds a
state is an error without --resume (--resume on a folder without one starts
at step 0); with it,
training continues from the last save and gives the same weights as an
uninterrupted run. Raising "steps" in the pipeline file and resuming extends a
finished run; any other changed setting is an error that names it.

Options:
  --resume        continue from the state in the output folder
  --data INDEX    the MaCheX index.json to train on, in place of train.data
  --out DIR       the output folder, in place of train.output
  --models DIR    where relative model paths are looked up first (default: $CHEFF_MODELS)
  --steps N       stop after N steps in this call and save (continue later with --resume)
  --cpu           run the plain TypeScript reference kernels instead of WebGPU
  --draws FILE    latent diffusion: replay recorded random draws instead of the
                  seeded ones, to compare a step with another implementation;
                  a safetensors file with t [S, N], noise and posterior_noise
                  [S, N, C, h, w] for S steps of N images
${COMMON_HELP.replace(/\n  --overwrite[^\n]*/, "")}

Examples:
  cheff train pipelines/train-autoencoder.json --data my-radiographs/index.json   (after: cheff index my-radiographs/)
  cheff train pipelines/train-ldm-uncond.json --resume`,
  async run(args) {
    const parsed = parseOptions("train", args, {
      resume: { type: "boolean" },
      data: { type: "string" },
      out: { type: "string" },
      models: { type: "string" },
      steps: { type: "string" },
      cpu: { type: "boolean" },
      draws: { type: "string" },
    }, 1);
    const pipeline = parsed.positionals[0];
    if (!pipeline) throw new CheffError("train: a pipeline file is required (see cheff train --help)");
    if (parsed.values.overwrite === true) {
      throw new CheffError(
        "train: --overwrite is not used, because a saved training state is never replaced; pass --resume to continue it or --out DIR for a new run",
      );
    }
    const settings = await readTrainPipeline(pipeline, {
      data: stringOption(parsed, "data"),
      output: stringOption(parsed, "out"),
      modelsDir: stringOption(parsed, "models"),
    });
    const stopAfter = parsed.values.steps === undefined ? undefined : intOption(parsed, "steps", 1, 1);
    const drawsFile = stringOption(parsed, "draws");
    if (drawsFile !== undefined && settings.recipe !== "latent-diffusion") {
      throw new CheffError(
        `train: --draws replays the draws of latent-diffusion training only; this pipeline's recipe is ${settings.recipe}`,
      );
    }
    const draws = drawsFile === undefined ? undefined : await RecordedDraws.load(drawsFile);
    const gpu = parsed.values.cpu ? undefined : await getGpu();

    // The bar counts the steps of this call, so its rate and time left stay right after a resume.
    let progress: Progress | undefined;
    let firstStep = 0;
    const result = await runTraining(gpu, settings, {
      resume: parsed.values.resume === true,
      stopAfter,
      saveOnStop: true,
      draws,
      note,
      onStart(step) {
        firstStep = step;
        const remaining = settings.steps - step;
        progress = new Progress(
          `train ${settings.recipe}`,
          stopAfter === undefined ? remaining : Math.min(stopAfter, remaining),
        );
      },
      onStep(report) {
        const images = report.imagesPerSecond >= 1
          ? `${report.imagesPerSecond.toFixed(2)} images/s`
          : `${(1 / report.imagesPerSecond).toFixed(1)} s/image`;
        // The bar counts this call's steps; the run's own count follows when the two differ.
        const runStep = firstStep > 0 || stopAfter !== undefined
          ? `run step ${report.step}/${report.steps}, `
          : "";
        progress?.update(report.step - firstStep, `${runStep}loss ${report.loss.toPrecision(5)}, ${images}`);
      },
    });
    note(`stopped at step ${result.step} of ${settings.steps}; model in ${settings.output}/${MODEL_FILE}`);
  },
};
