/**
 * RSNA Pneumonia Detection Challenge. Metadata: `stage_2_train_labels.csv`
 * (`patientId`, `x`, `y`, `width`, `height`, `Target`, one row per box, so an
 * image may appear several times); images: `stage_2_train_images/<patientId>.dcm`.
 * The CSV has no view, so with frontal_only each DICOM header's View Position
 * decides (AP and PA kept). The key is the challenge's `patientId`, a random
 * identifier that names one image.
 *
 * class_label: [1] when `Target` is 1 (lung opacity suggesting pneumonia), else [-1].
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv } from "../csv.ts";
import { isFolder, keepFrontalDicoms, locateFile, resolveIn } from "./common.ts";
import type { Adapter, PlannedImage, PlanSkip } from "./types.ts";

export const rsnaPneumonia: Adapter = {
  name: "rsna-pneumonia",
  title: "RSNA Pneumonia Detection Challenge",
  options: {
    csv: { type: "path", description: "stage_2_train_labels.csv" },
    images: { type: "path", description: "the DICOM folder, stage_2_train_images by default" },
  },

  async plan({ root, options, frontalOnly }) {
    const csvFile = locateFile(root, options.csv, ["stage_2_train_labels.csv"], "RSNA label CSV");
    const table = await readCsv(csvFile, ["patientId", "Target"]);
    const folder = resolveIn(root, options.images ?? "stage_2_train_images");
    if (!isFolder(folder)) throw new CheffError(`${folder}: RSNA image folder not found`);

    const targets = new Map<string, number>();
    table.rows.forEach((row, index) => {
      const key = row["patientId"].trim();
      const target = row["Target"].trim();
      if (target !== "0" && target !== "1") {
        throw new CheffError(
          `${csvFile}: line ${index + 2}, column 'Target': invalid value '${target}', expected 0 or 1`,
        );
      }
      targets.set(key, Math.max(targets.get(key) ?? 0, Number(target)));
    });

    let images: PlannedImage[] = [...targets].map(([key, target]) => ({
      source: join(folder, `${key}.dcm`),
      key,
      class_label: [target === 1 ? 1 : -1],
    }));
    const skipped: PlanSkip[] = [];
    if (frontalOnly) {
      const frontal = await keepFrontalDicoms(images);
      images = frontal.images;
      skipped.push(...frontal.skipped);
    }
    return { images, skipped, classNames: ["Pneumonia"] };
  },
};
