/**
 * The contract between the preparation runner and a dataset adapter. An adapter
 * reads a dataset's own metadata files and lists the images to prepare, in a
 * fixed order, with each image's key and optional report and class labels.
 * The runner then assigns ids, converts the images and writes the index.
 */

/** One image an adapter selected for preparation. */
export interface PlannedImage {
  /** Absolute path of the source image. */
  source: string;
  /**
   * The dataset's own pseudonymous key for the image (a file name, image id or
   * relative path), without a file extension, as `cheff index` writes keys.
   */
  key: string;
  /** Free-text report attached to the image. */
  report?: string;
  /** Labels in the order of the adapter's class names: 1 positive, -1 negative, 0 uncertain or not mentioned. */
  class_label?: number[];
}

/** An image the adapter dropped while planning, with the reason (written to skipped.log). */
export interface PlanSkip {
  key: string;
  reason: string;
}

export interface Plan {
  images: PlannedImage[];
  /** Names of the class_label entries, in order; written to classes.json. */
  classNames?: string[];
  skipped?: PlanSkip[];
}

/** The type of an adapter's config option. `path` values resolve against the dataset root. */
export type AdapterOptionSpec =
  | { type: "path"; description: string }
  | { type: "string"; description: string }
  | { type: "choice"; choices: readonly string[]; description: string };

export interface AdapterContext {
  /** Absolute dataset root, as downloaded. */
  root: string;
  /** The adapter's options from the config, already type-checked against `options`. */
  options: Record<string, string>;
  /** Keep only frontal (AP/PA) views. */
  frontalOnly: boolean;
  /** Writes a note about the dataset to stderr (unless quiet). */
  note(message: string): void;
}

export interface Adapter {
  /** The config name, e.g. `chexpert`. */
  name: string;
  /** The dataset's published name, for messages. */
  title: string;
  options: Record<string, AdapterOptionSpec>;
  plan(context: AdapterContext): Promise<Plan>;
}
