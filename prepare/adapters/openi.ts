/**
 * Open-i (Indiana University chest X-ray collection). Images: PNGs in
 * `NLMCXR_png/` (or the root), named after the report's image ids, e.g.
 * `CXR1_1_IM-0001-3001.png`; reports: XML files in `ecgen-radiology/`, each
 * with `<AbstractText Label="FINDINGS">`, `<AbstractText Label="IMPRESSION">`
 * and one `<parentImage id="…">` per image. The key is the file name without
 * `.png`.
 *
 * The PNGs carry no view. With frontal_only, images are kept only when the
 * config's `projections` CSV lists them as frontal (`projection_column` is
 * Frontal, PA or AP, matched on `projection_key_column` without `.png`/`.dcm`);
 * without that CSV no image is kept, and a note on stderr reports it.
 *
 * report: FINDINGS then IMPRESSION of the report naming the image, whitespace
 * collapsed; absent when neither section has text. No class_label.
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv } from "../csv.ts";
import { isFolder, listFiles, pathExists, resolveIn } from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

const FRONTAL_PROJECTIONS = new Set(["FRONTAL", "PA", "AP"]);

function decodeXmlText(text: string): string {
  return text
    .replace(/<[^>]*>/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_, code) => String.fromCodePoint(Number(code)))
    .replace(/&amp;/g, "&");
}

/** Reads one Open-i report: the ids of its images and its FINDINGS + IMPRESSION text. */
export function parseOpenIReport(xml: string): { imageIds: string[]; report: string } {
  const section = (label: string) => {
    // A section without text is written as a self-closing element, which must not open a match.
    const match = xml.match(
      new RegExp(`<AbstractText[^>]*Label="${label}"[^>]*(?<!/)>([\\s\\S]*?)</AbstractText>`),
    );
    return match ? decodeXmlText(match[1]).replace(/\s+/g, " ").trim() : "";
  };
  const imageIds = [...xml.matchAll(/<parentImage[^>]*\sid="([^"]+)"/g)].map((match) => match[1]);
  const report = [section("FINDINGS"), section("IMPRESSION")].filter((text) => text !== "").join(" ");
  return { imageIds, report };
}

function imageStem(name: string): string {
  return name.replace(/^.*\//, "").replace(/\.png$/i, "").replace(/\.dcm$/i, "");
}

export const openI: Adapter = {
  name: "openi",
  title: "Open-i",
  options: {
    images: { type: "path", description: "the PNG folder, NLMCXR_png by default" },
    reports: { type: "path", description: "the XML report folder, ecgen-radiology by default" },
    projections: { type: "path", description: "a CSV naming each image's projection, Frontal or Lateral" },
    projection_key_column: {
      type: "string",
      description: "the projections CSV's image column, default filename",
    },
    projection_column: {
      type: "string",
      description: "the projections CSV's projection column, default projection",
    },
  },

  async plan({ root, options, frontalOnly, note }) {
    const imageFolder = options.images !== undefined
      ? resolveIn(root, options.images)
      : isFolder(join(root, "NLMCXR_png"))
      ? join(root, "NLMCXR_png")
      : root;
    if (!isFolder(imageFolder)) throw new CheffError(`${imageFolder}: Open-i image folder not found`);

    let frontal: Set<string> | undefined;
    if (options.projections !== undefined) {
      const keyColumn = options.projection_key_column ?? "filename";
      const projectionColumn = options.projection_column ?? "projection";
      const table = await readCsv(resolveIn(root, options.projections), [keyColumn, projectionColumn]);
      frontal = new Set(
        table.rows
          .filter((row) => FRONTAL_PROJECTIONS.has(row[projectionColumn].trim().toUpperCase()))
          .map((row) => imageStem(row[keyColumn].trim())),
      );
    } else if (frontalOnly) {
      note("Open-i PNGs carry no view position and the config names no 'projections' CSV: no image is kept");
      return { images: [] };
    }

    const reports = new Map<string, string>();
    const reportFolder = resolveIn(root, options.reports ?? "ecgen-radiology");
    if (isFolder(reportFolder)) {
      for (const path of listFiles(reportFolder, [".xml"])) {
        const { imageIds, report } = parseOpenIReport(await Deno.readTextFile(join(reportFolder, path)));
        for (const id of imageIds) reports.set(id, report);
      }
    } else if (options.reports !== undefined || pathExists(reportFolder)) {
      throw new CheffError(`${reportFolder}: Open-i report folder not found`);
    } else {
      note(`${reportFolder} not found: images get no report`);
    }

    const images: PlannedImage[] = [];
    for (const path of listFiles(imageFolder, [".png"])) {
      const key = imageStem(path);
      if (frontalOnly && !frontal!.has(key)) continue;
      const image: PlannedImage = { source: join(imageFolder, path), key };
      const report = reports.get(key);
      if (report) image.report = report;
      images.push(image);
    }
    return { images };
  },
};
