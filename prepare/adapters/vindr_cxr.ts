/**
 * VinDr-CXR. Images: DICOM files `<image_id>.dicom` in `train/` or `test/`;
 * labels: `annotations/image_labels_<split>.csv` (`image_id`, `rad_id` on the
 * training split, then one 0/1 column per finding, one row per reading
 * radiologist). The key is the image_id. The images are frontal
 * (posteroanterior); with frontal_only, a file whose header names another
 * View Position is dropped.
 *
 * class_label: the label columns of image_labels_<split>.csv in file order,
 * 1 when any radiologist marked the finding and -1 otherwise; absent when the
 * file is missing or does not list the image.
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv } from "../csv.ts";
import { fileStem, isFolder, keepFrontalDicoms, listFiles, pathExists } from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

export const vindrCxr: Adapter = {
  name: "vindr-cxr",
  title: "VinDr-CXR",
  options: {
    split: { type: "choice", choices: ["train", "test"], description: "which image folder to prepare" },
  },

  async plan({ root, options, frontalOnly, note }) {
    const split = options.split ?? "train";
    const folder = join(root, split);
    if (!isFolder(folder)) throw new CheffError(`${folder}: VinDr-CXR image folder not found`);

    let classNames: string[] | undefined;
    const labels = new Map<string, number[]>();
    const labelFile = join(root, "annotations", `image_labels_${split}.csv`);
    if (pathExists(labelFile)) {
      const table = await readCsv(labelFile, ["image_id"]);
      classNames = table.header.filter((name) => name !== "image_id" && name !== "rad_id");
      table.rows.forEach((row, index) => {
        const id = row["image_id"].trim();
        const vector = labels.get(id) ?? classNames!.map(() => -1);
        classNames!.forEach((name, column) => {
          const cell = row[name].trim();
          if (cell !== "0" && cell !== "1" && cell !== "0.0" && cell !== "1.0") {
            throw new CheffError(
              `${labelFile}: line ${index + 2}, column '${name}': invalid label '${cell}', expected 0 or 1`,
            );
          }
          if (Number(cell) === 1) vector[column] = 1;
        });
        labels.set(id, vector);
      });
    } else {
      note(`${labelFile} not found: images get no class_label`);
    }

    let images: PlannedImage[] = listFiles(folder, [".dicom", ".dcm"]).map((path) => {
      const key = fileStem(path);
      const image: PlannedImage = { source: join(folder, path), key };
      const vector = labels.get(key);
      if (vector !== undefined) image.class_label = vector;
      return image;
    });
    const skipped = [];
    if (frontalOnly) {
      const frontal = await keepFrontalDicoms(images);
      images = frontal.images;
      skipped.push(...frontal.skipped);
    }
    return { images, skipped, classNames };
  },
};
