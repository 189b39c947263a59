/**
 * CheXpert. Metadata: `train.csv` or `valid.csv` (`Path`, `Frontal/Lateral`,
 * `AP/PA` and the 14 observation columns). `Path` starts with the folder the
 * archive unpacked to (`CheXpert-v1.0/` or `CheXpert-v1.0-small/`). That folder
 * is dropped, and so is the `.jpg` extension, so the key is e.g.
 * `train/patient00001/study1/view1_frontal`. A frontal image has
 * `Frontal/Lateral` = Frontal.
 *
 * class_label: the 14 CheXpert observations in CHEXPERT_CLASSES order, mapped
 * 1 → 1, 0 → -1, -1 (uncertain) and blank → 0.
 */
import { CHEXPERT_CLASSES, chexpertLabels, locateFile, resolveIn, withoutImageExtension } from "./common.ts";
import { readCsv } from "../csv.ts";
import type { Adapter, PlannedImage } from "./types.ts";

export const chexpert: Adapter = {
  name: "chexpert",
  title: "CheXpert",
  options: {
    csv: { type: "path", description: "the label file, train.csv by default or valid.csv" },
  },

  async plan({ root, options, frontalOnly }) {
    const csvFile = locateFile(root, options.csv, ["train.csv"], "CheXpert train.csv");
    const table = await readCsv(csvFile, ["Path", ...CHEXPERT_CLASSES]);
    const hasViewColumn = table.header.includes("Frontal/Lateral");

    const images: PlannedImage[] = [];
    table.rows.forEach((row, index) => {
      const path = row["Path"].trim();
      const frontal = hasViewColumn ? row["Frontal/Lateral"].trim() === "Frontal" : path.includes("frontal");
      if (frontalOnly && !frontal) return;
      const relativePath = path.replace(/^CheXpert-v1\.0[^/]*\//, "");
      images.push({
        source: resolveIn(root, relativePath),
        key: withoutImageExtension(relativePath),
        class_label: chexpertLabels(table, row, index + 2),
      });
    });
    return { images, classNames: [...CHEXPERT_CLASSES] };
  },
};
