/**
 * `cheff embed`: radiology reports to a context stream, the report encoder's
 * output that the report-conditioned U-Net attends to.
 */
import { CheffError } from "../io/errors.ts";
import { checkStreamOutput } from "../io/files.ts";
import { writeStream } from "../io/stream.ts";
import { textEncoderPlugin } from "../plugins/text_encoder.ts";
import { type Command, COMMON_HELP, parseOptions, stringOption } from "./command.ts";
import { readReportFile } from "./diffuse.ts";
import { cliContext } from "./run_context.ts";

export const embedCommand: Command = {
  name: "embed",
  summary: "encode a report to a text-encoder context",
  help: `Usage: cheff embed --model CKPT (--report TEXT ... | --report-file FILE) [--config JSON] [--out FILE]

Tokenizes radiology reports with the bert-base-uncased WordPiece tokenizer (150
tokens: [CLS], up to 148 word pieces, [SEP], padding) and runs the model's report
encoder. Writes a context stream: 'context' [N, 150, D] float32 and 'tokens'
[N, 150] int64, one row per report, to --out or standard output. A report longer
than 148 word pieces is truncated, with a warning on stderr.

Options:
  --model CKPT        report-conditioned checkpoint (cheff_diff_t2i.pt or a converted file)
  --config JSON       config file (a whole ldm_config or the cond_stage_config); default:
                      the file's stored config, else the cheff-ldm-t2i preset
  --report TEXT       a report; repeat for several (one context row each)
  --report-file FILE  read one report from a file ('-' for standard input)
  --out FILE          context stream to write (default: standard output)
${COMMON_HELP}

Example:
  cheff embed --model cheff_diff_t2i.pt --report "Mild cardiomegaly. No effusion." --out report.safetensors
  cheff diffuse --model cheff_diff_t2i.pt --context report.safetensors --seed 1 --out z.safetensors`,

  async run(args) {
    const parsed = parseOptions(
      "embed",
      args,
      {
        model: { type: "string" },
        config: { type: "string" },
        report: { type: "string", multiple: true },
        "report-file": { type: "string" },
        out: { type: "string" },
      },
      0,
    );
    const model = stringOption(parsed, "model");
    if (!model) throw new CheffError("embed: --model is required (see cheff embed --help)");
    const reports = [...((parsed.values.report as string[] | undefined) ?? [])];
    const reportFile = stringOption(parsed, "report-file");
    if (reportFile !== undefined) reports.push(await readReportFile(reportFile));
    if (reports.length === 0) throw new CheffError("embed: give --report TEXT or --report-file FILE (see cheff embed --help)");
    const out = stringOption(parsed, "out");
    const overwrite = parsed.values.overwrite === true;
    checkStreamOutput(out, { overwrite });

    const context = await cliContext();
    const stream = await textEncoderPlugin.run("embed", undefined, {
      model,
      config: stringOption(parsed, "config"),
      report: reports,
    }, context);
    await writeStream(stream, out, { overwrite });
  },
};
