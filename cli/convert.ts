/**
 * `cheff convert FILE --out FILE.safetensors [--config JSON | --preset NAME]`:
 * rewrites a model file's weights as safetensors with their original key names,
 * floating tensors as float32, and the model config as JSON in the metadata key
 * `cheff.config`, so later commands need neither pickle nor `--config`.
 */
import { type Command, COMMON_HELP, parseOptions, stringOption } from "./command.ts";
import { CheffError } from "../io/errors.ts";
import { checkWritable, readInput } from "../io/files.ts";
import { CHEFF_VERSION } from "../io/stream.ts";
import { CONFIG_METADATA_KEY, loadWeights, stateDict, stateDictPath } from "../io/checkpoint/load.ts";
import { elementCount } from "../io/checkpoint/tensors.ts";
import { weightForFile, type WeightToWrite, writeWeightsFile } from "../io/checkpoint/write.ts";
import { PRESETS } from "../stages/presets.ts";
import { checkConfigFits } from "../stages/config_check.ts";

export interface ConvertOptions {
  out: string;
  /** Path of a JSON config file. */
  config?: string;
  /** A key of PRESETS. */
  preset?: string;
  overwrite?: boolean;
  /** Called with one progress line (stderr in the CLI). */
  log?: (line: string) => void;
}

export interface ConvertResult {
  tensors: number;
  parameters: number;
  /** Where the recorded config came from, or undefined when none was known. */
  configFrom?: string;
}

async function readConfigFile(path: string): Promise<unknown> {
  const text = new TextDecoder().decode(await readInput(path));
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CheffError(`${path}: not valid JSON (${(error as Error).message.split("\n")[0]})`);
  }
}

/** Converts `input` to a safetensors file at `options.out`. */
export async function convertFile(input: string, options: ConvertOptions): Promise<ConvertResult> {
  if (options.config !== undefined && options.preset !== undefined) {
    throw new CheffError("convert: give --config or --preset, not both");
  }
  if (!options.out.toLowerCase().endsWith(".safetensors")) {
    throw new CheffError(`--out ${options.out}: expected a file name ending in .safetensors`);
  }
  checkWritable(options.out, { overwrite: options.overwrite });

  let config: unknown;
  let configFrom: string | undefined;
  if (options.config !== undefined) {
    config = await readConfigFile(options.config);
    configFrom = options.config;
  } else if (options.preset !== undefined) {
    if (!Object.hasOwn(PRESETS, options.preset)) {
      throw new CheffError(
        `--preset: unknown preset '${options.preset}', expected one of ${Object.keys(PRESETS).join(", ")}`,
      );
    }
    config = PRESETS[options.preset];
    configFrom = `preset ${options.preset}`;
  }

  const loaded = await loadWeights(input);
  const weights = stateDict(loaded, input);
  if (weights.size === 0) throw new CheffError(`${input}: holds no weight tensors to convert`);
  if (config !== undefined) checkConfigFits(config, weights, input);
  if (config === undefined && loaded.config !== undefined) {
    config = loaded.config;
    configFrom = loaded.format === "safetensors"
      ? `${input}'s ${CONFIG_METADATA_KEY}`
      : `${input}'s hyper_parameters`;
  }

  const toWrite = new Map<string, WeightToWrite>();
  let parameters = 0;
  for (const [key, tensor] of weights) {
    toWrite.set(key, weightForFile(tensor));
    parameters += elementCount(tensor.shape);
  }
  const metadata: Record<string, string> = { "cheff.version": CHEFF_VERSION };
  if (config !== undefined) metadata[CONFIG_METADATA_KEY] = JSON.stringify(config);
  await writeWeightsFile(options.out, toWrite, metadata, { overwrite: options.overwrite });

  const where = stateDictPath(loaded);
  options.log?.(
    `${options.out}: ${weights.size.toLocaleString("en-US")} tensors, ${
      parameters.toLocaleString("en-US")
    } parameters` +
      `${where ? ` from ${where}` : ""}; ` +
      (configFrom
        ? `config from ${configFrom}`
        : "no config recorded (pass --config FILE or --preset NAME to add one)"),
  );
  return { tensors: weights.size, parameters, configFrom };
}

export const convertCommand: Command = {
  name: "convert",
  summary: "rewrite a .pt/.ckpt checkpoint as safetensors with its config",
  help: `Usage: cheff convert FILE --out FILE.safetensors [--config JSON_FILE | --preset NAME]

Reads a PyTorch checkpoint (.pt/.ckpt, zip or pre-1.6 layout; nothing in it is
executed) or a safetensors file, takes its weights (state_dict for Lightning
files, model for the super-resolution files, else the top level; nested dicts
joined with dots) and writes them as safetensors with their original key names:
floating tensors as float32, int64 kept as int64. Optimizer state and other
training entries are left out.

The model config is stored as JSON in the metadata key cheff.config, taken from
--config, --preset, or else the checkpoint's hyper_parameters (read as data).
The output is written atomically and never replaces a file without --overwrite.

Options:
  --out FILE          the safetensors file to write (required)
  --config FILE       a JSON config to record (any shape --config accepts elsewhere)
  --preset NAME       record a built-in config: ${Object.keys(PRESETS).join(", ")}

Example:
  cheff convert cheff_autoencoder.pt --out cheff_autoencoder.safetensors --preset cheff-ae
  cheff convert last.ckpt --out ldm.safetensors

${COMMON_HELP}`,
  async run(args) {
    const parsed = parseOptions("convert", args, {
      out: { type: "string", short: "o" },
      config: { type: "string" },
      preset: { type: "string" },
    }, 1);
    if (parsed.values.help) {
      console.log(convertCommand.help);
      return;
    }
    const input = parsed.positionals[0];
    if (!input) throw new CheffError("convert: name the model file to convert (see cheff convert --help)");
    const out = stringOption(parsed, "out");
    if (!out) throw new CheffError("convert: --out FILE.safetensors is required (see cheff convert --help)");
    await convertFile(input, {
      out,
      config: stringOption(parsed, "config"),
      preset: stringOption(parsed, "preset"),
      overwrite: parsed.values.overwrite === true,
      log: parsed.values.quiet ? undefined : (line) => console.error(line),
    });
  },
};
