/**
 * NIH ChestX-ray14. Metadata: `Data_Entry_2017_v2020.csv` or `Data_Entry_2017.csv`
 * (`Image Index`, `Finding Labels`, `View Position`). Images: PNGs anywhere under
 * the root, because the download unpacks to `images_001/images/` …
 * `images_012/images/` and other copies use one `images/` folder. The split lists `train_val_list.txt`
 * and `test_list.txt` choose the rows; MaCheX takes the train/val list. The key
 * is `Image Index` without `.png` (e.g. `00000001_000`).
 *
 * class_label: the 14 findings below, 1 when `Finding Labels` names the finding
 * and -1 when it does not (the labels are NLP-mined, without an uncertain class).
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv, readTextFile } from "../csv.ts";
import { FRONTAL_VIEWS, listFiles, locateFile, pathExists, resolveIn, withoutImageExtension } from "./common.ts";
import type { Adapter, PlannedImage, PlanSkip } from "./types.ts";

export const NIH_CLASSES = [
  "Atelectasis",
  "Cardiomegaly",
  "Effusion",
  "Infiltration",
  "Mass",
  "Nodule",
  "Pneumonia",
  "Pneumothorax",
  "Consolidation",
  "Edema",
  "Emphysema",
  "Fibrosis",
  "Pleural_Thickening",
  "Hernia",
] as const;

const SPLIT_LISTS: Record<string, string> = { train: "train_val_list.txt", test: "test_list.txt" };

export const chestXray14: Adapter = {
  name: "chestx-ray14",
  title: "ChestX-ray14",
  options: {
    metadata: { type: "path", description: "the Data_Entry_2017 CSV file" },
    split: {
      type: "choice",
      choices: ["train", "test", "all"],
      description: "rows of train_val_list.txt, of test_list.txt, or every row",
    },
    images: { type: "path", description: "the folder searched for the PNG images, the root by default" },
  },

  async plan({ root, options, frontalOnly, note }) {
    const metadataFile = locateFile(
      root,
      options.metadata,
      [
        "Data_Entry_2017_v2020.csv",
        "Data_Entry_2017.csv",
        "Data_Entry_2017_v2020.csv.gz",
        "Data_Entry_2017.csv.gz",
      ],
      "ChestX-ray14 metadata (Data_Entry_2017*.csv)",
    );
    const table = await readCsv(metadataFile, ["Image Index", "Finding Labels", "View Position"]);

    const split = options.split ?? "train";
    let selected: Set<string> | undefined;
    if (split !== "all") {
      const listFile = join(root, SPLIT_LISTS[split]);
      if (pathExists(listFile)) {
        selected = new Set(
          (await readTextFile(listFile)).split(/\r?\n/).map((l) => l.trim()).filter(Boolean),
        );
      } else if (options.split !== undefined) {
        throw new CheffError(`${listFile}: split list not found`);
      } else {
        note(`${SPLIT_LISTS[split]} not found in ${root}: preparing every row of ${metadataFile}`);
      }
    }

    const imageFolder = options.images === undefined ? root : resolveIn(root, options.images);
    const located = new Map<string, string>();
    for (const path of listFiles(imageFolder, [".png"])) {
      const name = path.slice(path.lastIndexOf("/") + 1);
      if (!located.has(name)) located.set(name, join(imageFolder, path));
    }

    const images: PlannedImage[] = [];
    const skipped: PlanSkip[] = [];
    for (const row of table.rows) {
      const name = row["Image Index"].trim();
      const key = withoutImageExtension(name);
      if (selected !== undefined && !selected.has(name)) continue;
      if (frontalOnly && !FRONTAL_VIEWS.has(row["View Position"].trim().toUpperCase())) continue;
      const source = located.get(name);
      if (source === undefined) {
        skipped.push({ key, reason: "image file not found" });
        continue;
      }
      const findings = new Set(row["Finding Labels"].split("|").map((f) => f.trim()));
      images.push({ source, key, class_label: NIH_CLASSES.map((name) => (findings.has(name) ? 1 : -1)) });
    }
    return { images, skipped, classNames: [...NIH_CLASSES] };
  },
};
