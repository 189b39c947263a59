/**
 * Prepares the training data of cheff's built-in model from the NIH
 * ChestX-ray14 radiographs that ship beside the repository (or under
 * `$CHEFF_DATA`): copies `cxr/nih-64` and `cxr/nih-256` into OUT_DIR, writes a
 * findings CSV that turns NIH's `Finding Labels` ("Cardiomegaly|Effusion") into
 * short lower-case texts ("cardiomegaly, effusion"), indexes both folders
 * with `cheff index` so the training pipelines can read them, and copies the
 * held-out images listed in `cxr/holdout.txt` into OUT_DIR/holdout for evaluation.
 *
 * Usage: deno run -A pipelines/builtin/prepare_data.ts OUT_DIR
 */
import { join, resolve } from "node:path";

const data = Deno.env.get("CHEFF_DATA") ?? resolve(new URL("../../../shared/data", import.meta.url).pathname);
const out = Deno.args[0];
if (!out) {
  console.error("usage: deno run -A pipelines/builtin/prepare_data.ts OUT_DIR");
  Deno.exit(2);
}

/** Splits one CSV line (fields may be quoted) into fields. */
function csvFields(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') field += line[i++];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      fields.push(field);
      field = "";
    } else field += c;
  }
  fields.push(field);
  return fields;
}

/** "Cardiomegaly|Pleural_Thickening" → "cardiomegaly, pleural thickening". */
export function findingsText(labels: string): string {
  return labels.split("|").map((l) => l.replaceAll("_", " ").toLowerCase()).join(", ");
}

const lines = Deno.readTextFileSync(join(data, "cxr", "labels.csv")).split(/\r?\n/).filter((l) => l !== "");
const header = csvFields(lines[0]);
const nameColumn = header.indexOf("Image Index");
const labelsColumn = header.indexOf("Finding Labels");
const findings = new Map<string, string>();
for (const line of lines.slice(1)) {
  const fields = csvFields(line);
  findings.set(fields[nameColumn].replace(/\.png$/, ""), findingsText(fields[labelsColumn]));
}

Deno.mkdirSync(out, { recursive: true });
const reports = join(out, "findings.csv");
Deno.writeTextFileSync(reports, "key,report\n" + [...findings].map(([k, r]) => `${k},"${r}"`).join("\n") + "\n");

for (const folder of ["nih-64", "nih-256"]) {
  const target = join(out, folder);
  Deno.mkdirSync(target, { recursive: true });
  for (const entry of Deno.readDirSync(join(data, "cxr", folder))) {
    if (entry.isFile && entry.name.endsWith(".png")) Deno.copyFileSync(join(data, "cxr", folder, entry.name), join(target, entry.name));
  }
  const index = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../cli/main.ts", import.meta.url).pathname, "index", target, "--reports", reports, "--overwrite", "-q"],
  }).outputSync();
  if (index.code !== 0) {
    console.error(new TextDecoder().decode(index.stderr));
    Deno.exit(1);
  }
}
Deno.copyFileSync(join(data, "cxr", "holdout.txt"), join(out, "holdout.txt"));

// The held-out images (lines such as "nih-256/00000013_003.png"), gathered for evaluation:
// `cheff evaluate reconstruct OUT_DIR/holdout --size 64` measures the autoencoder on all of them at 64 px.
const holdout = join(out, "holdout");
Deno.mkdirSync(holdout, { recursive: true });
const heldOut = Deno.readTextFileSync(join(out, "holdout.txt")).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
for (const line of heldOut) {
  const name = line.split("/").pop()!;
  Deno.copyFileSync(join(data, "cxr", line), join(holdout, name));
}
console.error(
  `prepared ${out}: nih-64/index.json, nih-256/index.json, findings.csv, holdout.txt, holdout/ (${heldOut.length} images)`,
);
