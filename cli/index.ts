/** `cheff index`: writes a MaCheX index.json for a folder of images, in place. */
import { join } from "node:path";
import { CheffError } from "../io/errors.ts";
import { writeFolderIndex } from "../prepare/folder_index.ts";
import { syntheticWarning } from "../prepare/synthetic.ts";
import { type Command, COMMON_HELP, parseOptions, stringOption } from "./command.ts";
import { warn } from "./common.ts";

const HELP =
  `cheff index FOLDER [--reports CSV --key-column K --text-column T] [--labels CSV [--label-columns A,B,…]]

Writes FOLDER/index.json for the PNG, JPEG and DICOM files under FOLDER without
copying them: ids "000000", "000001", … in the order of the files' sorted relative
paths, each entry {path, key, report?, class_label?, synthetic?} with path
relative to FOLDER and key the file name without extension. With --labels,
FOLDER/classes.json names the class_label entries in order. A folder without
such files is an error. --overwrite replaces an existing index.json and
classes.json; without --labels it removes a classes.json left from an earlier
index.

Warnings on stderr: images that no row of --reports names, and PNGs that
cheff generated (text chunk cheff:synthetic=true, recorded as "synthetic": true),
which should not be used as real or training data.

Options:
  --reports CSV         CSV with a report per image
  --key-column K        column of the CSVs holding the image's file name, with or
                        without extension (default: key)
  --text-column T       report column of --reports (default: report)
  --labels CSV          CSV with CheXpert-style labels per image: 1 → 1, 0 → -1,
                        -1 (uncertain) or blank → 0
  --label-columns A,B   label columns in class_label order (default: every column
                        but the key column)

Example:
  cheff index scans/ --reports reports.csv --key-column image --text-column findings

${COMMON_HELP}`;

export const indexCommand: Command = {
  name: "index",
  summary: "write a MaCheX index.json for a folder of images",
  help: HELP,
  async run(args) {
    const parsed = parseOptions("index", args, {
      reports: { type: "string" },
      "key-column": { type: "string" },
      "text-column": { type: "string" },
      labels: { type: "string" },
      "label-columns": { type: "string" },
    }, 1);
    if (parsed.values.help) {
      console.log(HELP);
      return;
    }

    const folder = parsed.positionals[0];
    if (folder === undefined) throw new CheffError("index: missing FOLDER (see cheff index --help)");
    const reports = stringOption(parsed, "reports");
    const labels = stringOption(parsed, "labels");
    const textColumn = stringOption(parsed, "text-column");
    const labelColumns = stringOption(parsed, "label-columns");
    if (textColumn !== undefined && reports === undefined) {
      throw new CheffError("index: --text-column needs --reports CSV");
    }
    if (labelColumns !== undefined && labels === undefined) {
      throw new CheffError("index: --label-columns needs --labels CSV");
    }

    const written = await writeFolderIndex(folder, {
      reports,
      labels,
      keyColumn: stringOption(parsed, "key-column"),
      textColumn,
      labelColumns: labelColumns?.split(",").map((name) => name.trim()).filter(Boolean),
    }, parsed.values.overwrite === true);
    const count = Object.keys(written.index).length;
    if (written.unreadable.length > 0) {
      warn(
        `index: left out ${written.unreadable.length} file(s) that do not start like a PNG, JPEG or DICOM file, ` +
          `e.g. ${join(folder, written.unreadable[0])}`,
      );
    }
    if (written.withoutReport.length > 0) {
      warn(
        `index: ${written.withoutReport.length} of ${count} images have no row in ${reports}, ` +
          `e.g. key '${written.withoutReport[0]}'; they get no report`,
      );
    }
    if (written.synthetic.length > 0) {
      warn(syntheticWarning(folder, written.synthetic.map((path) => join(folder, path)), count));
    }
    if (written.removedClasses !== undefined) {
      warn(`index: removed ${written.removedClasses}, left from an earlier index with --labels`);
    }
    if (written.staleClasses !== undefined) {
      warn(
        `index: ${written.staleClasses} is left from an earlier index with --labels and does not describe this one; ` +
          "pass --overwrite to remove it",
      );
    }
    if (!parsed.values.quiet) console.error(`index: ${count} images listed in ${join(folder, "index.json")}`);
  },
};
