/**
 * MIMIC-CXR-JPG with the reports of MIMIC-CXR. Metadata:
 * `mimic-cxr-2.0.0-metadata.csv` (`dicom_id`, `subject_id`, `study_id`,
 * `ViewPosition`); labels: `mimic-cxr-2.0.0-chexpert.csv` (`subject_id`,
 * `study_id` and the 14 observations); both may be gzipped. Images lie at
 * `files/p<first two digits of subject>/p<subject>/s<study>/<dicom_id>.jpg`;
 * the key is that path without `.jpg`. Reports come from MIMIC-CXR's
 * `files/pXX/p<subject>/s<study>.txt` under the `reports` folder (default: the root).
 *
 * report: the FINDINGS section followed by the IMPRESSION section, whitespace
 * collapsed; absent when the study has no report file or neither section.
 * class_label: the study's row of the chexpert CSV in CHEXPERT_CLASSES order,
 * mapped 1 → 1, 0 → -1, -1 (uncertain) and blank → 0; absent for studies the
 * labeler did not cover.
 */
import { join } from "node:path";
import { CheffError } from "../../io/errors.ts";
import { readCsv } from "../csv.ts";
import { runPool } from "../pool.ts";
import {
  CHEXPERT_CLASSES,
  chexpertLabels,
  FRONTAL_VIEWS,
  locateFile,
  pathExists,
  resolveIn,
} from "./common.ts";
import type { Adapter, PlannedImage } from "./types.ts";

/** A section heading of a MIMIC-CXR report: an upper-case phrase and a colon at the start of a line. */
const HEADING = /^[ \t]*([A-Z][A-Z0-9 &/(),'-]*):/gm;

/**
 * Extracts the FINDINGS and IMPRESSION sections of a report and joins them with
 * one space; each section runs to the next heading. Returns "" when neither exists.
 */
export function extractFindingsAndImpression(report: string): string {
  const headings = [...report.matchAll(HEADING)].map((match) => ({
    name: match[1].trim(),
    start: match.index!,
    body: match.index! + match[0].length,
  }));
  const section = (name: string) => {
    const at = headings.findIndex((heading) => heading.name === name);
    if (at < 0) return "";
    const end = at + 1 < headings.length ? headings[at + 1].start : report.length;
    return report.slice(headings[at].body, end).replace(/\s+/g, " ").trim();
  };
  return [section("FINDINGS"), section("IMPRESSION")].filter((text) => text !== "").join(" ");
}

function studyFolder(subject: string, study: string): string {
  return `files/p${subject.slice(0, 2)}/p${subject}/s${study}`;
}

export const mimicCxr: Adapter = {
  name: "mimic-cxr",
  title: "MIMIC-CXR-JPG",
  options: {
    metadata: { type: "path", description: "the metadata file, mimic-cxr-2.0.0-metadata.csv or its .gz" },
    labels: { type: "path", description: "the label file, mimic-cxr-2.0.0-chexpert.csv or its .gz" },
    reports: { type: "path", description: "the folder holding MIMIC-CXR's files/pXX/pID/sID.txt reports" },
  },

  async plan({ root, options, frontalOnly, note }) {
    const metadataFile = locateFile(
      root,
      options.metadata,
      ["mimic-cxr-2.0.0-metadata.csv", "mimic-cxr-2.0.0-metadata.csv.gz"],
      "MIMIC-CXR-JPG metadata",
    );
    const metadata = await readCsv(metadataFile, ["dicom_id", "subject_id", "study_id", "ViewPosition"]);

    const labelsByStudy = new Map<string, number[]>();
    let labelFile: string | undefined;
    try {
      labelFile = locateFile(
        root,
        options.labels,
        ["mimic-cxr-2.0.0-chexpert.csv", "mimic-cxr-2.0.0-chexpert.csv.gz"],
        "MIMIC-CXR-JPG chexpert labels",
      );
    } catch (error) {
      if (options.labels !== undefined || !(error instanceof CheffError)) throw error;
      note(`no mimic-cxr-2.0.0-chexpert.csv in ${root}: images get no class_label`);
    }
    if (labelFile !== undefined) {
      const labels = await readCsv(labelFile, ["subject_id", "study_id", ...CHEXPERT_CLASSES]);
      labels.rows.forEach((row, index) => {
        const folder = studyFolder(row["subject_id"].trim(), row["study_id"].trim());
        labelsByStudy.set(folder, chexpertLabels(labels, row, index + 2));
      });
    }

    const reportRoot = options.reports === undefined ? root : resolveIn(root, options.reports);
    if (options.reports !== undefined && !pathExists(reportRoot)) {
      throw new CheffError(`${reportRoot}: report folder not found`);
    }

    const images: PlannedImage[] = [];
    const folders: string[] = [];
    for (const row of metadata.rows) {
      const view = row["ViewPosition"].trim().toUpperCase();
      if (frontalOnly && !FRONTAL_VIEWS.has(view)) continue;
      const folder = studyFolder(row["subject_id"].trim(), row["study_id"].trim());
      const key = `${folder}/${row["dicom_id"].trim()}`;
      images.push({ source: join(root, `${key}.jpg`), key });
      folders.push(folder);
    }

    const reports = new Map<string, string>();
    const studies = [...new Set(folders)];
    await runPool(studies, 8, async (folder) => {
      try {
        reports.set(
          folder,
          extractFindingsAndImpression(await Deno.readTextFile(join(reportRoot, `${folder}.txt`))),
        );
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    });
    const withReport = studies.filter((folder) => reports.get(folder)).length;
    note(`${withReport} of ${studies.length} studies have a report with FINDINGS or IMPRESSION`);

    images.forEach((image, index) => {
      const report = reports.get(folders[index]);
      if (report) image.report = report;
      const labels = labelsByStudy.get(folders[index]);
      if (labels !== undefined) image.class_label = labels;
    });
    return { images, classNames: [...CHEXPERT_CLASSES] };
  },
};
