/**
 * SIIM-ACR Pneumothorax Segmentation. Metadata: `train-rle.csv` with `ImageId`
 * and `EncodedPixels` (written with a leading space in the header), one row per
 * mask and `-1` when there is none. Images: `<ImageId>.dcm` anywhere under
 * `dicom-images-train/` (study and series folders). With frontal_only each
 * DICOM header's View Position decides (AP and PA kept). The key is `ImageId`.
 *
 * class_label: [1] when any row of the image has a mask (pneumothorax), else [-1].
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv } from "../csv.ts";
import { fileStem, isFolder, keepFrontalDicoms, listFiles, locateFile, resolveIn } from "./common.ts";
import type { Adapter, PlannedImage, PlanSkip } from "./types.ts";

export const siimAcr: Adapter = {
  name: "siim-acr",
  title: "SIIM-ACR Pneumothorax Segmentation",
  options: {
    csv: { type: "path", description: "train-rle.csv" },
    images: { type: "path", description: "the DICOM folder, dicom-images-train by default" },
  },

  async plan({ root, options, frontalOnly }) {
    const csvFile = locateFile(root, options.csv, ["train-rle.csv"], "SIIM-ACR train-rle.csv");
    const table = await readCsv(csvFile, ["ImageId", "EncodedPixels"]);
    const folder = resolveIn(root, options.images ?? "dicom-images-train");
    if (!isFolder(folder)) throw new CheffError(`${folder}: SIIM-ACR image folder not found`);

    const located = new Map(listFiles(folder, [".dcm"]).map((path) => [fileStem(path), join(folder, path)]));
    const masks = new Map<string, boolean>();
    for (const row of table.rows) {
      const key = row["ImageId"].trim();
      masks.set(key, (masks.get(key) ?? false) || row["EncodedPixels"].trim() !== "-1");
    }

    let images: PlannedImage[] = [];
    const skipped: PlanSkip[] = [];
    for (const [key, hasMask] of masks) {
      const source = located.get(key);
      if (source === undefined) {
        skipped.push({ key, reason: "image file not found" });
        continue;
      }
      images.push({ source, key, class_label: [hasMask ? 1 : -1] });
    }
    if (frontalOnly) {
      const frontal = await keepFrontalDicoms(images);
      images = frontal.images;
      skipped.push(...frontal.skipped);
    }
    return { images, skipped, classNames: ["Pneumothorax"] };
  },
};
