/**
 * The `train` section of a pipeline file, validated in full before any work
 * starts; every error names the field by its JSON path.
 *
 * ```json
 * {
 *   "cheff": 1,
 *   "models": { "ldm": "ldm_uncond.pt" },
 *   "train": {
 *     "recipe": "latent-diffusion",
 *     "model": "ldm",
 *     "data": "data/nih-64/index.json",
 *     "image_size": 64, "batch_size": 2, "steps": 1000, "lr": 2e-6,
 *     "save_every": 100, "seed": 0, "output": "runs/ldm"
 *   }
 * }
 * ```
 */
import { createHash } from "node:crypto";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { sha256File } from "../io/checkpoint/load.ts";
import { CheffError } from "../io/errors.ts";

export const RECIPES = ["autoencoder", "latent-diffusion", "super-resolution"] as const;
export type RecipeName = typeof RECIPES[number];

export interface TrainSettings {
  /** The pipeline file the settings come from, for messages. */
  pipeline: string;
  recipe: RecipeName;
  /** Path of the model file training starts from; undefined to start from `config` with fresh weights. */
  model?: string;
  /** The network config (any shape the stage loaders accept); required without `model`. */
  config?: unknown;
  /** Latent diffusion: the frozen autoencoder's file (default: the `first_stage_model.*` weights of `model`). */
  autoencoder?: string;
  /** Path of the MaCheX index.json. */
  data: string;
  exclude?: string;
  imageSize: number;
  /** Super-resolution: the side of the low-resolution input. */
  lowResSize: number;
  /**
   * Super-resolution: train on square crops of this side, cut at random from the
   * high-resolution image and its upsampled conditioning (undefined: whole images).
   */
  cropSize?: number;
  batchSize: number;
  steps: number;
  lr: number;
  optimizer: "adam" | "adamw";
  betas: [number, number];
  eps: number;
  weightDecay: number;
  warmupSteps: number;
  /** Steps at which the learning rate is multiplied by `lrGamma` (undefined: none). */
  lrMilestones?: number[];
  lrGamma?: number;
  /** Maximum global gradient norm; 0 turns clipping off. */
  clipGradNorm: number;
  ema: boolean;
  emaDecay: number;
  klWeight: number;
  /**
   * Autoencoder: whether the encoder (and quant_conv) is trained. When false only
   * post_quant_conv and the decoder learn, so the latents a latent-diffusion model
   * was trained on stay exactly as they were (undefined: trained).
   */
  trainEncoder?: boolean;
  /** Autoencoder: the reconstruction term, "l1" (the reference's) or "l2" (undefined: l1). */
  reconstructionLoss?: "l1" | "l2";
  /** Autoencoder: the file holding the LPIPS weights (undefined: no perceptual term). */
  perceptual?: string;
  /** Autoencoder: the perceptual term's weight (set exactly when `perceptual` is). */
  perceptualWeight?: number;
  /** Autoencoder: the patch discriminator and when its terms start (undefined: no adversarial terms). */
  discriminator?: DiscriminatorSettings;
  seed: number;
  saveEvery: number;
  flip: boolean;
  /** Folder for the state, the model file and the JSON log. */
  output: string;
  /**
   * SHA-256 of the settings that shape the run (all but file paths and the step
   * count, which a resume may raise), to catch a resume with other settings.
   */
  hash: string;
  /** The hash that states saved before the step count was left out carry (it includes the step count). */
  hashWithSteps: string;
  /** The settings the hash covers, saved with the state so a mismatch can name the fields that differ. */
  shaping: Record<string, unknown>;
}

/** The adversarial part of autoencoder training, as the reference's LPIPSWithDiscriminator sets it. */
export interface DiscriminatorSettings {
  /** The step count after which the adversarial terms count (the reference's disc_start). */
  start: number;
  /** The adaptive weight's factor (disc_weight; Cheff's autoencoder used 0.5). */
  weight: number;
  /** The first convolution's width (the reference's 64). */
  ndf: number;
  /** Stride-2 convolutions (disc_num_layers, the reference's 3). */
  layers: number;
}

type Json = Record<string, unknown>;

/** The autoencoder's perceptual and adversarial fields of the train section. */
const LOSS_TERM_FIELDS = ["perceptual", "perceptual_weight", "disc_start", "disc_weight", "disc_ndf", "disc_num_layers"];

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const FIELDS = new Set([
  "recipe",
  "model",
  "config",
  "autoencoder",
  "data",
  "exclude",
  "image_size",
  "low_res_size",
  "crop_size",
  "batch_size",
  "steps",
  "lr",
  "optimizer",
  "betas",
  "eps",
  "weight_decay",
  "warmup_steps",
  "lr_milestones",
  "lr_gamma",
  "clip_grad_norm",
  "ema",
  "ema_decay",
  "kl_weight",
  "train_encoder",
  "reconstruction_loss",
  "perceptual",
  "perceptual_weight",
  "disc_start",
  "disc_weight",
  "disc_ndf",
  "disc_num_layers",
  "seed",
  "save_every",
  "flip",
  "output",
]);

export interface PipelineOverrides {
  /** Replaces `train.data`. */
  data?: string;
  /** Replaces `train.output`. */
  output?: string;
  /** The folder where relative model paths are looked up first (`--models`, `CHEFF_MODELS`). */
  modelsDir?: string;
}

/** Reads and validates a training pipeline file; relative paths resolve against its folder. */
export async function readTrainPipeline(
  path: string,
  overrides: PipelineOverrides = {},
): Promise<TrainSettings> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: pipeline file not found`);
    throw new CheffError(`${path}: cannot read the pipeline file (${(error as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CheffError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return parseTrainPipeline(json, path, overrides);
}

/** Validates a parsed pipeline (see readTrainPipeline). */
export function parseTrainPipeline(
  json: unknown,
  path: string,
  overrides: PipelineOverrides = {},
): TrainSettings {
  const fail = (field: string, message: string): never => {
    throw new CheffError(`${path}: ${field}: ${message}`);
  };
  if (!isObject(json)) fail("$", "expected a JSON object");
  const root = json as Json;
  if (root.cheff !== 1) fail("$.cheff", `expected 1, got ${JSON.stringify(root.cheff)}`);
  const models = root.models ?? {};
  if (!isObject(models)) fail("$.models", "expected an object of model name → file path");
  const train = root.train;
  if (!isObject(train)) fail("$.train", "missing; a training pipeline needs a train section");
  const t = train as Json;
  for (const key of Object.keys(t)) {
    if (!FIELDS.has(key)) fail(`$.train.${key}`, `unknown field (expected one of ${[...FIELDS].join(", ")})`);
  }
  const folder = dirname(resolve(path));
  const resolvePath = (value: string) => (isAbsolute(value) ? value : join(folder, value));

  const string = (key: string, required: boolean): string | undefined => {
    const v = t[key];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v.length === 0) fail(`$.train.${key}`, "expected a non-empty string");
    return v as string;
  };
  const number = (
    key: string,
    fallback: number | undefined,
    check: (v: number) => boolean,
    expected: string,
  ): number => {
    const v = t[key] ?? fallback;
    if (v === undefined) fail(`$.train.${key}`, `missing; expected ${expected}`);
    if (typeof v !== "number" || !check(v)) {
      fail(`$.train.${key}`, `expected ${expected}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };
  const integer = (key: string, fallback: number | undefined, min: number) =>
    number(key, fallback, (v) => Number.isInteger(v) && v >= min, `an integer ≥ ${min}`);
  const boolean = (key: string, fallback: boolean): boolean => {
    const v = t[key] ?? fallback;
    if (typeof v !== "boolean") fail(`$.train.${key}`, `expected true or false, got ${JSON.stringify(v)}`);
    return v as boolean;
  };
  const milestones = (v: unknown): number[] => {
    const valid = Array.isArray(v) &&
      v.every((step, i) => Number.isInteger(step) && step >= 1 && (i === 0 || step > v[i - 1]));
    if (!valid) {
      fail("$.train.lr_milestones", `expected increasing step numbers ≥ 1, got ${JSON.stringify(v)}`);
    }
    return v as number[];
  };
  // Unlike `boolean`, a null is an error here rather than the default.
  const strictBoolean = (key: string): boolean => {
    if (typeof t[key] !== "boolean") {
      fail(`$.train.${key}`, `expected true or false, got ${JSON.stringify(t[key])}`);
    }
    return t[key] as boolean;
  };
  // The schedule is absent when it never changes the learning rate, as a run without the fields.
  const learningRateSchedule = (): { lrMilestones?: number[]; lrGamma?: number } => {
    if (t.lr_milestones === undefined && t.lr_gamma === undefined) return {};
    if (t.lr_milestones === undefined) {
      fail(
        "$.train.lr_milestones",
        "missing; lr_gamma needs the steps after which the learning rate is multiplied",
      );
    }
    const steps = milestones(t.lr_milestones);
    if (steps.length > 0 && t.lr_gamma === undefined) {
      fail("$.train.lr_gamma", "missing; lr_milestones needs the factor that multiplies the learning rate");
    }
    const gamma = t.lr_gamma === undefined ? 1 : number("lr_gamma", undefined, positive, "a positive number");
    return steps.length === 0 || gamma === 1 ? {} : { lrMilestones: steps, lrGamma: gamma };
  };
  const reconstructionLoss = (v: unknown): "l1" | "l2" => {
    if (v !== "l1" && v !== "l2") {
      fail("$.train.reconstruction_loss", `expected "l1" or "l2", got ${JSON.stringify(v)}`);
    }
    return v as "l1" | "l2";
  };
  // The perceptual and adversarial terms, each absent unless its switch field (perceptual, disc_start) is set.
  const lossTerms = (): Pick<TrainSettings, "perceptual" | "perceptualWeight" | "discriminator"> => {
    const out: Pick<TrainSettings, "perceptual" | "perceptualWeight" | "discriminator"> = {};
    const stray = LOSS_TERM_FIELDS.find((key) => t[key] !== undefined);
    if (stray && recipe !== "autoencoder") {
      fail(`$.train.${stray}`, "only the autoencoder recipe has a perceptual term and a discriminator");
    }
    if (t.perceptual !== undefined) {
      out.perceptual = modelPath("perceptual");
      out.perceptualWeight = number("perceptual_weight", 1, nonNegative, "a number ≥ 0");
    } else if (t.perceptual_weight !== undefined) {
      fail("$.train.perceptual", "missing; perceptual_weight needs the model whose LPIPS weights it weighs");
    }
    if (t.disc_start !== undefined) {
      out.discriminator = {
        start: integer("disc_start", undefined, 0),
        weight: number("disc_weight", 0.5, nonNegative, "a number ≥ 0"),
        ndf: integer("disc_ndf", 64, 1),
        layers: integer("disc_num_layers", 3, 1),
      };
    } else {
      const field = ["disc_weight", "disc_ndf", "disc_num_layers"].find((key) => t[key] !== undefined);
      if (field) {
        fail("$.train.disc_start", `missing; ${field} needs the step count after which the discriminator counts`);
      }
    }
    return out;
  };
  const modelPath = (key: string): string | undefined => {
    const name = string(key, false);
    if (name === undefined) return undefined;
    const file = (models as Json)[name];
    if (typeof file !== "string") fail(`$.train.${key}`, `'${name}' is not a name in $.models`);
    return resolveModel(file as string, folder, overrides.modelsDir);
  };

  const recipe = string("recipe", true) as RecipeName;
  if (!RECIPES.includes(recipe)) {
    fail("$.train.recipe", `expected one of ${RECIPES.join(", ")}, got '${recipe}'`);
  }
  const model = modelPath("model");
  const config = t.config;
  if (model === undefined && config === undefined) {
    fail(
      "$.train",
      "needs a model to start from ($.train.model) or a network config for fresh weights ($.train.config)",
    );
  }
  const data = overrides.data ?? string("data", overrides.data === undefined);
  const output = overrides.output ?? string("output", overrides.output === undefined);
  const exclude = string("exclude", false);
  const optimizer = (t.optimizer ?? (recipe === "autoencoder" ? "adam" : "adamw")) as string;
  if (optimizer !== "adam" && optimizer !== "adamw") {
    fail("$.train.optimizer", `expected adam or adamw, got '${optimizer}'`);
  }
  const betas = (t.betas ?? (recipe === "autoencoder" ? [0.5, 0.9] : [0.9, 0.999])) as unknown;
  if (
    !Array.isArray(betas) || betas.length !== 2 ||
    !betas.every((b) => typeof b === "number" && b >= 0 && b < 1)
  ) {
    fail("$.train.betas", "expected two numbers in [0, 1)");
  }
  const positive = (v: number) => v > 0 && Number.isFinite(v);
  const nonNegative = (v: number) => v >= 0 && Number.isFinite(v);

  const settings = {
    pipeline: path,
    recipe,
    model,
    config,
    autoencoder: modelPath("autoencoder"),
    data: overrides.data ? resolve(data!) : resolvePath(data!),
    exclude: exclude === undefined ? undefined : resolvePath(exclude),
    imageSize: integer("image_size", undefined, 1),
    lowResSize: recipe === "super-resolution" ? integer("low_res_size", undefined, 1) : 0,
    // Absent unless set, so the hash of runs made before crops existed is unchanged.
    cropSize: t.crop_size === undefined ? undefined : integer("crop_size", undefined, 1),
    batchSize: integer("batch_size", undefined, 1),
    steps: integer("steps", undefined, 1),
    lr: number("lr", undefined, positive, "a positive number"),
    optimizer,
    betas: betas as [number, number],
    eps: number("eps", 1e-8, positive, "a positive number"),
    weightDecay: number("weight_decay", optimizer === "adamw" ? 0.01 : 0, nonNegative, "a number ≥ 0"),
    warmupSteps: integer("warmup_steps", 0, 0),
    ...learningRateSchedule(),
    clipGradNorm: number("clip_grad_norm", 0, nonNegative, "a number ≥ 0 (0 turns clipping off)"),
    ema: boolean("ema", recipe === "latent-diffusion"),
    emaDecay: number("ema_decay", 0.9999, (v) => v > 0 && v < 1, "a number in (0, 1)"),
    klWeight: number("kl_weight", 1e-6, nonNegative, "a number ≥ 0"),
    // Absent at their defaults, so runs made before these fields existed, or that spell a default out, hash alike.
    trainEncoder: t.train_encoder === undefined || strictBoolean("train_encoder") ? undefined : false,
    reconstructionLoss:
      t.reconstruction_loss === undefined || reconstructionLoss(t.reconstruction_loss) === "l1"
        ? undefined
        : "l2",
    ...lossTerms(),
    seed: integer("seed", 0, 0),
    saveEvery: integer("save_every", 100, 1),
    flip: boolean("flip", false),
    output: overrides.output ? resolve(output!) : resolvePath(output!),
    hash: "",
    hashWithSteps: "",
    shaping: {},
  } as TrainSettings;
  if (settings.cropSize !== undefined) {
    if (recipe !== "super-resolution") {
      fail("$.train.crop_size", "only the super-resolution recipe trains on crops");
    }
    if (settings.cropSize > settings.imageSize) {
      fail(
        "$.train.crop_size",
        `expected at most image_size (${settings.imageSize}), got ${settings.cropSize}`,
      );
    }
  }
  if (t.train_encoder !== undefined && recipe !== "autoencoder") {
    fail("$.train.train_encoder", "only the autoencoder recipe has an encoder to train or freeze");
  }
  if (settings.trainEncoder === false && model === undefined) {
    fail(
      "$.train.train_encoder",
      "false needs a trained model to start from ($.train.model); a fresh encoder would stay random",
    );
  }
  if (t.reconstruction_loss !== undefined && recipe !== "autoencoder") {
    fail("$.train.reconstruction_loss", "only the autoencoder recipe has a reconstruction loss");
  }
  // Paths stay out of the hash, so a run folder or dataset that moved still resumes.
  const {
    pipeline: _pipeline,
    model: _model,
    autoencoder: _autoencoder,
    perceptual: _perceptual,
    data: _data,
    exclude: _exclude,
    output: _output,
    hash: _hash,
    hashWithSteps: _hashWithSteps,
    shaping: _shaping,
    ...withSteps
  } = settings;
  const sha256 = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex");
  const { steps: _steps, ...shaping } = withSteps;
  // States saved before the step count left the hash hashed it, with an empty hash field last.
  settings.hashWithSteps = sha256({ ...withSteps, hash: "" });
  settings.hash = sha256(shaping);
  settings.shaping = shaping;
  return settings;
}

/**
 * Adds the SHA-256 of the LPIPS weights file to the settings the hash covers,
 * so a resume with other perceptual weights is rejected while a moved copy of
 * the same file is accepted.
 */
export async function addInputDigests(settings: TrainSettings): Promise<void> {
  if (!settings.perceptual || settings.shaping.perceptualFile !== undefined) return;
  settings.shaping.perceptualFile = await sha256File(settings.perceptual).catch((error) => {
    throw new CheffError(`${settings.perceptual}: cannot read the LPIPS weights (${(error as Error).message})`);
  });
  settings.hash = createHash("sha256").update(JSON.stringify(settings.shaping)).digest("hex");
}

/** Resolves a relative model path against the models folder (when the file is there), then the pipeline's folder. */
function resolveModel(file: string, folder: string, modelsDir: string | undefined): string {
  if (isAbsolute(file)) return file;
  const dir = modelsDir ?? Deno.env.get("CHEFF_MODELS");
  if (dir) {
    const candidate = join(dir, file);
    try {
      Deno.statSync(candidate);
      return candidate;
    } catch {
      // Not in the models folder: fall back to the pipeline's folder.
    }
  }
  return join(folder, file);
}
