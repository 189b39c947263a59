/**
 * BRAX. Metadata: `master_spreadsheet_update.csv` with `ViewPosition`, the
 * image path columns `PngPath` and `DicomPath` (relative to the root), and the
 * 14 CheXpert-style label columns. `image_column` chooses PNG (default) or
 * DICOM input; that column's value without its extension is the key.
 *
 * class_label: the 14 observations in CHEXPERT_CLASSES order, mapped 1 → 1,
 * 0 → -1, -1 (uncertain) and blank → 0.
 */
import { readCsv } from "../csv.ts";
import {
  CHEXPERT_CLASSES,
  chexpertLabels,
  FRONTAL_VIEWS,
  locateFile,
  resolveIn,
  withoutImageExtension,
} from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

export const brax: Adapter = {
  name: "brax",
  title: "BRAX",
  options: {
    csv: { type: "path", description: "master_spreadsheet_update.csv" },
    image_column: {
      type: "choice",
      choices: ["PngPath", "DicomPath"],
      description: "the column with each image's path",
    },
  },

  async plan({ root, options, frontalOnly }) {
    const csvFile = locateFile(root, options.csv, ["master_spreadsheet_update.csv"], "BRAX spreadsheet");
    const imageColumn = options.image_column ?? "PngPath";
    const table = await readCsv(csvFile, [imageColumn, "ViewPosition", ...CHEXPERT_CLASSES]);

    const images: PlannedImage[] = [];
    table.rows.forEach((row, index) => {
      if (frontalOnly && !FRONTAL_VIEWS.has(row["ViewPosition"].trim().toUpperCase())) return;
      const path = row[imageColumn].trim();
      images.push({
        source: resolveIn(root, path),
        key: withoutImageExtension(path),
        class_label: chexpertLabels(table, row, index + 2),
      });
    });
    return { images, classNames: [...CHEXPERT_CLASSES] };
  },
};
