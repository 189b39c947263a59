/**
 * The `cheff` command line: `cheff <command> [options]`. Each command lives in
 * its own module, loaded only when it runs; errors a user can cause are printed
 * as one line (`cheff: …`) with exit status 1.
 */
import { getGpu } from "../gpu/device.ts";
import { CheffError } from "../io/errors.ts";
import { CHEFF_VERSION } from "../io/stream.ts";
import type { Command } from "./command.ts";
import { applyCommonOptions } from "./common.ts";

interface Entry {
  summary: string;
  load: () => Promise<Command>;
}

/** Every command, in the order `cheff --help` lists them. */
const COMMANDS: Record<string, Entry> = {
  encode: { summary: "encode radiographs to autoencoder latents", load: async () => (await import("./encode.ts")).encodeCommand },
  decode: { summary: "decode latents to images", load: async () => (await import("./decode.ts")).decodeCommand },
  diffuse: {
    summary: "sample or inpaint latents with a latent diffusion model",
    load: async () => (await import("./diffuse.ts")).diffuseCommand,
  },
  upscale: {
    summary: "super-resolve images 4× with the SR diffusion model",
    load: async () => (await import("./upscale.ts")).upscaleCommand,
  },
  generate: {
    summary: "run a pipeline file (the whole cascade, batches, shards)",
    load: async () => (await import("./generate.ts")).generateCommand,
  },
  embed: { summary: "encode a report to a text-encoder context", load: async () => (await import("./embed.ts")).embedCommand },
  tokenize: { summary: "print a report's BERT token ids", load: async () => (await import("./tokenize.ts")).tokenizeCommand },
  train: { summary: "train a stage from a pipeline file", load: async () => (await import("./train.ts")).trainCommand },
  evaluate: {
    summary: "image-quality and distribution metrics",
    load: async () => (await import("./evaluate.ts")).evaluateCommand,
  },
  prepare: {
    summary: "turn public chest X-ray datasets into the MaCheX layout",
    load: async () => (await import("./prepare.ts")).prepareCommand,
  },
  index: { summary: "build a MaCheX index.json for a folder", load: async () => (await import("./index.ts")).indexCommand },
  inspect: { summary: "list a checkpoint's entries, keys and shapes", load: async () => (await import("./inspect.ts")).inspectCommand },
  convert: { summary: "convert a checkpoint to safetensors", load: async () => (await import("./convert.ts")).convertCommand },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, e]) => `  ${name.padEnd(width)}  ${e.summary}`);
  return `cheff ${CHEFF_VERSION}: generate, edit and learn chest radiographs with the Cheff cascade on WebGPU.

Usage: cheff <command> [options]     (cheff <command> --help for its options and an example)

Commands:
${lines.join("\n")}

Options:
  --version      print the version and the WebGPU adapter
  --adapter high-performance|low-power|fallback   which WebGPU adapter to request
                 (before or after the command name)

Example:
  cheff encode chest.png --model weights/test/autoencoder.safetensors | cheff decode --model weights/test/autoencoder.safetensors --out roundtrip.png

Synthetic radiographs are for research, not for diagnosis.`;
}

async function version(args: string[]): Promise<void> {
  applyCommonOptions(args);
  let adapter: string;
  try {
    const gpu = await getGpu();
    adapter = `${gpu.adapterDescription}${gpu.isFallback ? " (software fallback)" : ""}`;
  } catch (error) {
    adapter = `unavailable (${(error as Error).message})`;
  }
  console.log(`cheff ${CHEFF_VERSION}\ndeno ${Deno.version.deno}\nWebGPU adapter: ${adapter}`);
}

/** Moves the options every command takes (--adapter, --quiet) from before the command name to after it. */
function commonOptionsLast(args: string[]): string[] {
  const leading: string[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i];
    if (arg === "--adapter") {
      leading.push(arg, ...args.slice(i + 1, i + 2));
      i += 2;
    } else if (arg.startsWith("--adapter=") || arg === "--quiet" || arg === "-q") {
      leading.push(arg);
      i++;
    } else {
      break;
    }
  }
  return [...args.slice(i), ...leading];
}

export async function main(commandLine: string[]): Promise<number> {
  const args = commonOptionsLast(commandLine);
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V") {
    await version(rest);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`cheff: unknown command '${name}' (see cheff --help)`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  if (rest.includes("--version")) {
    await version(rest.filter((a) => a !== "--version"));
    return 0;
  }
  await command.run(rest);
  return 0;
}

if (import.meta.main) {
  let status: number;
  try {
    status = await main(Deno.args);
  } catch (error) {
    if (error instanceof CheffError) {
      console.error(`cheff: ${error.message}`);
      status = 1;
    } else {
      console.error("cheff: internal error (please report it):", error);
      status = 70;
    }
  }
  Deno.exit(status);
}
