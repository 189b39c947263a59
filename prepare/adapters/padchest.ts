/**
 * PadChest. Metadata: `PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv`
 * (may be gzipped) with `ImageID`, `ImageDir` and `Projection`. The images are
 * 16-bit PNGs in the numbered folders that `ImageDir` names (`0/`, `1/`, …), or
 * in one `images/` folder. Frontal projections are PA, AP and AP_horizontal;
 * the others (L, COSTAL, …) are kept only when frontal_only is false.
 * The key is `ImageID` without `.png`. PadChest's labels are Spanish-report terms, not
 * CheXpert-style findings, so no class_label is written.
 */
import { join } from "node:path";
import { readCsv } from "../csv.ts";
import { isFolder, locateFile, withoutImageExtension } from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

const PADCHEST_FRONTAL = new Set(["PA", "AP", "AP_horizontal"]);

export const padchest: Adapter = {
  name: "padchest",
  title: "PadChest",
  options: {
    csv: { type: "path", description: "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv" },
  },

  async plan({ root, options, frontalOnly }) {
    const csvFile = locateFile(
      root,
      options.csv,
      [
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv",
        "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz",
      ],
      "PadChest label CSV",
    );
    const table = await readCsv(csvFile, ["ImageID", "Projection"]);
    const hasImageDir = table.header.includes("ImageDir");

    // Each distinct folder is checked once: the numbered folder when it exists, else images/.
    const folderFor = new Map<string, string>();
    const resolveFolder = (imageDir: string) => {
      let folder = folderFor.get(imageDir);
      if (folder === undefined) {
        folder = hasImageDir && imageDir !== "" && isFolder(join(root, imageDir))
          ? join(root, imageDir)
          : isFolder(join(root, "images"))
          ? join(root, "images")
          : root;
        folderFor.set(imageDir, folder);
      }
      return folder;
    };

    const images: PlannedImage[] = [];
    for (const row of table.rows) {
      if (frontalOnly && !PADCHEST_FRONTAL.has(row["Projection"].trim())) continue;
      const name = row["ImageID"].trim();
      const folder = resolveFolder(hasImageDir ? row["ImageDir"].trim() : "");
      images.push({ source: join(folder, name), key: withoutImageExtension(name) });
    }
    return { images };
  },
};
