/**
 * The training loop. Each step takes a batch in data order, records one forward
 * and backward pass, clips the gradients, applies the optimizer (with
 * learning-rate warm-up) and the EMA, and appends a JSON log line. Every
 * `save_every` steps it saves the training state and a model file the inference
 * stages load.
 *
 * Every random draw is a function of (seed, step, data position), and the state
 * holds the exact float32 parameters and moments, so a run that is killed and
 * resumed from its last save ends with the same weights as one that ran
 * straight through.
 */
import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { Tensor } from "../gpu/tensor.ts";
import { CheffError } from "../io/errors.ts";
import { type CreatedFolder, createOutputFolder, removeCreatedFolders } from "../io/output_folder.ts";
import { Tape } from "./autograd.ts";
import { TrainingData } from "./data.ts";
import { Ema } from "./ema.ts";
import {
  Adam,
  clearDerived,
  clipGradNorm,
  joinParts,
  milestoneLr,
  ParameterStore,
  partsOf,
  warmupLr,
} from "./optim.ts";
import { createSetup } from "./setup.ts";
import { addInputDigests, type TrainSettings } from "./pipeline.ts";
import type { RecordedDraws } from "./recorded_draws.ts";
import { loadState, saveState, writeModelFile } from "./state.ts";

export const MODEL_FILE = "model.safetensors";
export const LOG_FILE = "log.jsonl";

/** The report of one finished step (also the fields of its log line). */
export interface StepReport {
  step: number;
  steps: number;
  loss: number;
  lr: number;
  gradNorm: number;
  imagesPerSecond: number;
  secondsLeft: number;
  terms?: Record<string, number>;
}

export interface RunOptions {
  /** Continue from the state in the output folder (an error when absent is not raised: the run starts fresh). */
  resume?: boolean;
  /** Stop after this many steps in this call. */
  stopAfter?: number;
  /** Save when stopping early at `stopAfter` (a deliberate pause); without it the steps since the last save are lost, as in a killed run. */
  saveOnStop?: boolean;
  /** Called once before the first step of this call, with the step the run starts at. */
  onStart?: (step: number) => void;
  onStep?: (report: StepReport) => void;
  /** Informational lines (resumed from, saved to). */
  note?: (message: string) => void;
  /** The largest row chunk of a loaded token table, in bytes (default: the adapter's storage binding limit). */
  tableChunkBytes?: number;
  /** Latent diffusion: recorded draws that replace the seeded ones (`--draws`). */
  draws?: RecordedDraws;
}

export interface RunResult {
  step: number;
  /** The parameters at the end, by checkpoint key name. */
  params: Map<string, Float32Array>;
}

/** Trains on `gpu` (the host path when undefined) with `settings`. */
export async function runTraining(
  gpu: Gpu | undefined,
  settings: TrainSettings,
  options: RunOptions = {},
): Promise<RunResult> {
  checkOutputPath(settings.output);
  if (options.draws && settings.recipe !== "latent-diffusion") {
    throw new CheffError(
      `${options.draws.path}: --draws replays the draws of latent-diffusion training only; this run's recipe is ${settings.recipe}`,
    );
  }
  await addInputDigests(settings);
  const saved = await loadState(settings.output);
  if (!saved) await checkFreshOutput(settings.output);
  if (saved && !options.resume) {
    throw new CheffError(
      `${settings.output}: contains a training state at step ${saved.info.step}; pass --resume to continue it or choose another output folder`,
    );
  }
  if (
    saved && saved.info.settingsHash !== settings.hash && saved.info.settingsHash !== settings.hashWithSteps
  ) {
    const changed = saved.info.settings ? differingFields(saved.info.settings, settings.shaping) : [];
    const changedText = changed.length > 0 ? ` (${changed.join(", ")} changed)` : "";
    throw new CheffError(
      `${settings.output}: the saved state was made with a different train section${changedText}; restore those settings or choose another output folder`,
    );
  }

  if (!saved && options.resume) {
    options.note?.(`${settings.output}: no saved state to resume; starting at step 0`);
  }

  const setup = await createSetup(gpu, settings, {
    tableChunkBytes: options.tableChunkBytes,
    draws: options.draws,
  });
  let createdOutput: CreatedFolder | undefined;
  try {
    const store = await ParameterStore.from(setup.trainable);
    const optimizer = new Adam(store, {
      lr: settings.lr,
      betas: settings.betas,
      eps: settings.eps,
      weightDecay: settings.weightDecay,
    }, settings.optimizer === "adamw");
    // The EMA continues the model file's when it has one (as the reference's does), else starts at the parameters.
    const emaInitial = new Map(
      setup.emaNames.map((name) => [name, setup.emaStart?.shadows.get(name) ?? store.values.get(name)!]),
    );
    let ema = setup.emaNames.length > 0
      ? new Ema(emaInitial, settings.emaDecay, setup.emaStart?.numUpdates ?? 0)
      : undefined;
    let step = 0;
    let position = 0;
    if (saved) {
      store.load(saved.params);
      optimizer.load(saved.optimizer);
      if (ema) {
        if (!saved.ema) {
          throw new CheffError(
            `${settings.output}: the saved state has no EMA, but the settings ask for one`,
          );
        }
        ema = Ema.fromState(saved.ema);
      }
      step = saved.info.step;
      position = saved.info.position;
      options.note?.(`resuming from step ${step} of ${settings.steps}`);
    }
    for (const t of setup.trainable.values()) partsOf(t).forEach(clearDerived);
    const lastStep = stopAfterStep(step, settings.steps, options.stopAfter);
    options.draws?.checkSteps(step, lastStep);

    const data = await TrainingData.open({
      index: settings.data,
      size: setup.imageSize,
      channels: setup.channels,
      batchSize: settings.batchSize,
      seed: settings.seed,
      flip: settings.flip,
      exclude: settings.exclude,
      requireReports: setup.requireReports,
    });

    createdOutput = await createOutputFolder(settings.output);
    const logPath = join(settings.output, LOG_FILE);
    // A resumed run's log goes back to the saved step, so steps redone after a kill are not logged twice.
    if (saved) await truncateLog(logPath, saved.info.step);
    // The rate counts from the end of this call's first step, which also compiles every kernel.
    let started = performance.now();
    let firstStep = step;
    let stepsThisCall = 0;

    const save = async () => {
      await saveState(settings.output, {
        info: {
          step,
          position,
          seed: settings.seed,
          recipe: settings.recipe,
          settingsHash: settings.hash,
          settings: settings.shaping,
        },
        params: store.values,
        optimizer: optimizer.state(),
        ema: ema?.state(),
      });
      const model = setup.exportModel(store.values, ema);
      await writeModelFile(join(settings.output, MODEL_FILE), model.tensors, model.config);
      options.note?.(`saved step ${step} to ${settings.output}`);
    };

    options.onStart?.(step);
    while (step < settings.steps) {
      if (options.stopAfter !== undefined && stepsThisCall >= options.stopAfter) {
        if (options.saveOnStop && step % settings.saveEvery !== 0) await save();
        break;
      }
      const batch = await data.batch(position);
      const tape = new Tape();
      for (const t of setup.trainable.values()) tape.watch(...partsOf(t));
      const outcome = await setup.step(tape, batch, step);

      // PyTorch leaves a parameter that no gradient reached untouched (its grad is None); so does Adam.apply.
      // A parameter held in parts gets zeros for a part that no gradient reached.
      const reached = [...setup.trainable].flatMap(([name, t]) => {
        const parts = partsOf(t).map((part) => ({ part, grad: outcome.grads.get(part) }));
        return parts.some((p) => p.grad) ? [[name, parts] as const] : [];
      });
      const values = await Tensor.readAll(reached.flatMap(([, parts]) => parts.flatMap((p) => p.grad ?? [])));
      const grads = new Map<string, Float32Array>();
      let next = 0;
      for (const [name, parts] of reached) {
        grads.set(
          name,
          joinParts(parts.map((p) => (p.grad ? values[next++] : new Float32Array(p.part.size)))),
        );
        for (const p of parts) p.grad?.release();
      }
      outcome.grads.release();
      tape.release();
      if (!Number.isFinite(outcome.loss)) {
        throw new CheffError(
          `training diverged at step ${step + 1}: the loss is ${outcome.loss}; lower the learning rate`,
        );
      }

      const gradNorm = settings.clipGradNorm > 0
        ? clipGradNorm(grads, settings.clipGradNorm)
        : globalNorm(grads);
      optimizer.lr = milestoneLr(
        warmupLr(settings.lr, step, settings.warmupSteps),
        step,
        settings.lrMilestones ?? [],
        settings.lrGamma ?? 1,
      );
      optimizer.apply(grads);
      ema?.update(store.values);
      step++;
      stepsThisCall++;
      position += settings.batchSize;

      const now = performance.now();
      const perStep = (now - started) / 1000 / (step - firstStep);
      if (stepsThisCall === 1) {
        started = now;
        firstStep = step;
      }
      const report: StepReport = {
        step,
        steps: settings.steps,
        loss: outcome.loss,
        lr: optimizer.lr,
        gradNorm,
        imagesPerSecond: settings.batchSize / perStep,
        secondsLeft: perStep * (settings.steps - step),
        terms: outcome.terms,
      };
      await Deno.writeTextFile(
        logPath,
        JSON.stringify({ ...report, ...report.terms, terms: undefined }) + "\n",
        { append: true },
      );
      options.onStep?.(report);
      if (step % settings.saveEvery === 0 || step === settings.steps) await save();
    }
    return { step, params: store.values };
  } catch (error) {
    // A fresh run that fails before its first save takes back its log and the folders it created.
    if (createdOutput && !saved && !(await loadState(settings.output).catch(() => undefined))) {
      await Deno.remove(join(settings.output, LOG_FILE)).catch(() => {});
      await removeCreatedFolders(createdOutput);
    }
    throw error;
  } finally {
    setup.release();
  }
}

/** Returns the step count at which this call stops: the run's end, or `stopAfter` steps on from `step`. */
function stopAfterStep(step: number, steps: number, stopAfter: number | undefined): number {
  return stopAfter === undefined ? steps : Math.min(steps, step + stopAfter);
}

/** The pipeline fields behind settings that the train section does not spell as they are named. */
const FIELD_NAMES: Record<string, string> = {
  "perceptualWeight": "perceptual",
  "perceptualFile": "perceptual",
  "discriminator": "disc_start",
  "discriminator.start": "disc_start",
  "discriminator.weight": "disc_weight",
  "discriminator.ndf": "disc_ndf",
  "discriminator.layers": "disc_num_layers",
};

/** Names the settings whose values differ between two runs, as the pipeline file spells them (batch_size). */
function differingFields(saved: Record<string, unknown>, current: Record<string, unknown>): string[] {
  const differing = (a: Record<string, unknown>, b: Record<string, unknown>, prefix: string): string[] =>
    [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((key) => {
      const [x, y] = [a[key], b[key]];
      if (JSON.stringify(x) === JSON.stringify(y)) return [];
      // A field present in both runs as an object names its own fields; one added or removed names the switch.
      if (isRecord(x) && isRecord(y) && prefix === "") return differing(x, y, `${key}.`);
      const name = prefix + key;
      // Both runs have a perceptual term: the weight or the file's contents changed, not the switch.
      if (key === "perceptualWeight" && x !== undefined && y !== undefined) return ["perceptual_weight"];
      if (key === "perceptualFile" && x !== undefined && y !== undefined) return ["the contents of the perceptual file"];
      return [FIELD_NAMES[name] ?? name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)];
    });
  return [...new Set(differing(saved, current, ""))];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Rejects an output path that is a file, before anything is read or written. */
function checkOutputPath(path: string): void {
  try {
    if (!Deno.statSync(path).isDirectory) {
      throw new CheffError(`${path}: is a file; the training output needs a folder`);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
}

/** Rejects a new run in a folder that already has files in it, so nothing there is replaced or appended to. */
async function checkFreshOutput(path: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(path)) {
      throw new CheffError(
        `${path}: contains files (${entry.name}) but no training state; choose a new or empty output folder (--out DIR)`,
      );
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
}

/** Keeps the log lines of steps up to `step` (the saved one); lines cut short by a kill go too. */
async function truncateLog(path: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const savedLines = text.split("\n").filter((line) => {
    try {
      return (JSON.parse(line) as { step?: unknown }).step as number <= step;
    } catch {
      return false;
    }
  });
  const rewritten = savedLines.map((line) => line + "\n").join("");
  if (rewritten === text) return;
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, rewritten);
  await Deno.rename(temporary, path);
}

function globalNorm(grads: Map<string, Float32Array>): number {
  let squares = 0;
  for (const g of grads.values()) for (const v of g) squares += v * v;
  return Math.sqrt(squares);
}
