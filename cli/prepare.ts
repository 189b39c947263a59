/** `cheff prepare`: turns downloaded public chest X-ray datasets into the MaCheX layout. */
import { CheffError } from "../io/errors.ts";
import { readConfig } from "../prepare/config.ts";
import { ADAPTERS } from "../prepare/adapters/index.ts";
import { prepare } from "../prepare/run.ts";
import { parseShard } from "../prepare/shard.ts";
import { type Command, COMMON_HELP, intOption, parseOptions, stringOption } from "./command.ts";

const HELP = `cheff prepare CONFIG.json [--only NAME] [--shard i/n] [--workers N] [--merge]

Converts public chest X-ray datasets, as downloaded, into the MaCheX layout:
one folder per dataset under the config's "output", holding the images as
8-bit grayscale JPEGs (shortest side resized to "size", centre-cropped to a
square) in subfolders of 10,000 (id 054321 → 05/054321.jpg), and index.json
mapping 6-digit ids to {path, key, report?, class_label?}, where key is the
dataset's own image key without a file extension (e.g. 00000001_000 for
ChestX-ray14). classes.json names the class_label entries; skipped.log lists
images that were not found or could not be read. prepare.json records the
settings. A rerun converts only the images not yet written.

CONFIG.json:
  {"cheff": 1, "output": "machex", "size": 1024, "quality": 95, "frontal_only": true,
   "datasets": {"chexpert": {"root": "/data/CheXpert-v1.0", "csv": "train.csv"},
                "mimic-cxr": {"root": "/data/mimic-cxr-jpg-2.0.0", "reports": "/data/mimic-cxr"}}}
  Dataset names: ${Object.keys(ADAPTERS).join(", ")}
  (or any name with "adapter": one of those). Relative paths resolve against the
  config's folder; an adapter's file options resolve against its root.

Options:
  --only NAME     prepare only this dataset of the config
  --shard i/n     prepare every n-th image, starting with the i-th (0 ≤ i < n, numbered from 0), and write
                  index.shard-i-of-n.json; run each shard, then --merge
  --merge         join the shard indexes of each dataset into index.json
  --workers N     images converted at once (default 1)
  --overwrite     convert every image again, also after the config's settings changed

Examples:
  cheff prepare machex.json --only chexpert --workers 4
  cheff prepare machex.json --shard 0/2 & cheff prepare machex.json --shard 1/2; wait
  cheff prepare machex.json --merge

${COMMON_HELP}`;

export const prepareCommand: Command = {
  name: "prepare",
  summary: "convert public chest X-ray datasets into the MaCheX layout",
  help: HELP,
  async run(args) {
    const parsed = parseOptions("prepare", args, {
      only: { type: "string" },
      shard: { type: "string" },
      workers: { type: "string" },
      merge: { type: "boolean" },
    }, 1);
    if (parsed.values.help) {
      console.log(HELP);
      return;
    }
    const configPath = parsed.positionals[0];
    if (configPath === undefined) {
      throw new CheffError("prepare: missing CONFIG.json (see cheff prepare --help)");
    }
    const shardText = stringOption(parsed, "shard");
    const merge = parsed.values.merge === true;
    if (merge && shardText !== undefined) {
      throw new CheffError("prepare: --merge and --shard cannot be combined");
    }

    const config = await readConfig(configPath);
    await prepare(config, {
      only: stringOption(parsed, "only"),
      shard: shardText === undefined ? undefined : parseShard(shardText),
      workers: intOption(parsed, "workers", 1, 1, 256),
      merge,
      overwrite: parsed.values.overwrite === true,
      quiet: parsed.values.quiet === true,
    });
  },
};
