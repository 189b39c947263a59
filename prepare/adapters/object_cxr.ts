/**
 * Object-CXR (foreign objects on chest radiographs). Metadata: `train.csv` or
 * `dev.csv` (`image_name`, `annotation`: the objects' outlines, blank when the
 * image has none); images: JPGs in `train/` or `dev/`. The images are frontal
 * and the CSV lists no view. The key is `image_name` without `.jpg`.
 *
 * class_label: [1] when `annotation` is not blank (a foreign object), else [-1].
 */
import { join } from "node:path";
import { readCsv } from "../csv.ts";
import { locateFile, withoutImageExtension } from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

export const objectCxr: Adapter = {
  name: "object-cxr",
  title: "Object-CXR",
  options: {
    split: {
      type: "choice",
      choices: ["train", "dev"],
      description: "which CSV and image folder to prepare",
    },
  },

  async plan({ root, options }) {
    const split = options.split ?? "train";
    const csvFile = locateFile(root, undefined, [`${split}.csv`], `Object-CXR ${split}.csv`);
    const table = await readCsv(csvFile, ["image_name", "annotation"]);
    const images: PlannedImage[] = table.rows.map((row) => {
      const name = row["image_name"].trim();
      return {
        source: join(root, split, name),
        key: withoutImageExtension(name),
        class_label: [row["annotation"].trim() === "" ? -1 : 1],
      };
    });
    return { images, classNames: ["Foreign Object"] };
  },
};
