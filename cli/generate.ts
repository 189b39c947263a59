/**
 * `cheff generate`: runs a pipeline file — the whole cascade, batches of
 * reports, shards — and writes images with a manifest.
 */
import { CheffError } from "../io/errors.ts";
import { parseShard, runGeneration } from "../plugins/generate.ts";
import { loadPipeline } from "../plugins/pipeline.ts";
import { type Command, COMMON_HELP, intOption, parseOptions, stringOption } from "./command.ts";
import { note, Progress } from "./common.ts";
import { cliContext } from "./run_context.ts";

export const generateCommand: Command = {
  name: "generate",
  summary: "run a pipeline file",
  help: `Usage: cheff generate PIPELINE.json [--out DIR] [--seed S] [--count N] [--batch-size B]
                      [--reports-file FILE] [--shard i/n] [--models DIR]
                      [--input IMAGE]... [--mask MASK]

Runs the stage chain a pipeline file declares (e.g. latent diffusion → decode →
super-resolution) and writes one image per item into the output folder, each
carrying its seed, steps, model hashes and a synthetic mark in its PNG text
chunks (or DICOM attributes), plus manifest.json and manifest.csv listing every
file with its seed, report and model hashes.

Items: --count images per input image and per report (one report per line of
--reports-file), or --count in all. Item i gets seed S + i and file
<prefix><i>.png (i padded to 5 digits), so batch size and sharding never change
an image: each file has the bytes that 'cheff diffuse --seed S+i | cheff decode'
would write. Images already in the folder are skipped, so a rerun resumes
(--overwrite regenerates them). --shard i/n (numbered from 0) runs the i-th of n
contiguous blocks of items, for Slurm arrays or Kubernetes indexed jobs; its
manifest is manifest-shard-i-of-n.json.

The file is validated in full before any work; an error names the field by its
JSON path. Relative model and config paths resolve against --models DIR (or
$CHEFF_MODELS), then the pipeline file's folder.

Options:
  --out DIR            output folder (default: the pipeline's output.dir, else ./out)
  --seed S             first seed, an integer from 0 to 2^53 − 1 (default: the pipeline's
                       seed, else 0)
  --count N            images per input image and per report (default: the pipeline's
                       count, else 1)
  --batch-size B       images per network call (default: the pipeline's batch_size, else 1)
  --reports-file FILE  one report per line; replaces the pipeline's conditioning
  --shard i/n          run shard i of n
  --models DIR         folder holding the model files (default: $CHEFF_MODELS)
  --input IMAGE        input image for a pipeline whose first stage reads images
                       (repeat for several); replaces the pipeline's input.images
  --mask MASK          inpainting mask; replaces the pipeline's mask
${COMMON_HELP}

Examples:
  cheff generate pipelines/builtin.json --out out/
  cheff generate pipelines/cheff-uncond-1024.json --models ~/cheff-models --count 8 --seed 100
  cheff generate pipelines/cheff-report-1024.json --models ~/cheff-models --reports-file reports.txt --shard 0/4
  cheff generate pipelines/cheff-device-removal.json --models ~/cheff-models --input chest.png --mask device.png`,
  async run(args) {
    const parsed = parseOptions(
      "generate",
      args,
      {
        out: { type: "string" },
        seed: { type: "string" },
        count: { type: "string" },
        "batch-size": { type: "string" },
        "reports-file": { type: "string" },
        shard: { type: "string" },
        models: { type: "string" },
        input: { type: "string", multiple: true },
        mask: { type: "string" },
      },
      1,
    );
    const file = parsed.positionals[0];
    if (!file) throw new CheffError("generate: name a pipeline file (see cheff generate --help)");

    const shardText = stringOption(parsed, "shard");
    const shard = shardText === undefined ? undefined : parseShard(shardText);
    const given = (name: string) => parsed.values[name] !== undefined;
    const pipeline = await loadPipeline(file, {
      out: stringOption(parsed, "out"),
      seed: given("seed") ? intOption(parsed, "seed", 0, 0, Number.MAX_SAFE_INTEGER) : undefined,
      count: given("count") ? intOption(parsed, "count", 1, 1) : undefined,
      batchSize: given("batch-size") ? intOption(parsed, "batch-size", 1, 1) : undefined,
      reportsFile: stringOption(parsed, "reports-file"),
      modelsDir: stringOption(parsed, "models"),
      inputs: parsed.values.input as string[] | undefined,
      mask: stringOption(parsed, "mask"),
    });
    if (pipeline.description) note(pipeline.description);

    const context = await cliContext();
    const progress = new Progress("generate", 1, "image");
    let generated = 0;
    let skipped = 0;
    const entries = await runGeneration(pipeline, context, {
      shard,
      onPlan: (toGenerate, alreadyThere) => {
        generated = toGenerate;
        skipped = alreadyThere;
        if (alreadyThere > 0) note(`${alreadyThere} of ${toGenerate + alreadyThere} images are already in ${pipeline.output.dir}; skipping them (--overwrite regenerates)`);
      },
      overwrite: parsed.values.overwrite === true,
      onBatch: (done, total) => {
        progress.total = total;
        progress.update(done);
      },
    });
    const synthetic = entries.some((e) => e.synthetic);
    const plural = (n: number) => `${n} image${n === 1 ? "" : "s"}`;
    note(
      `${plural(generated)} written to ${pipeline.output.dir}${skipped > 0 ? `, ${skipped} already there` : ""} ` +
        `(${synthetic ? "synthetic" : "reconstructions"}; for research, not for diagnosis)`,
    );
  },
};
