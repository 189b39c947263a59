/** `cheff index`: an index.json for a folder of images, in place. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { kitTest } from "../kit.ts";
import { indexCommand } from "../../cli/index.ts";
import { encodePng } from "../../io/image/write.ts";
import { copy, DICOM_PA, filesUnder, NIH_PNGS, readJson, tempDir, write } from "./helpers.ts";

/** Runs `fn` with console.error captured and returns the lines it printed. */
async function captureStderr(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

/** Encodes a small gray PNG with the given text chunks. */
function pngWithText(text: Record<string, string>): Uint8Array {
  return encodePng({ width: 4, height: 4, channels: 1, data: new Float32Array(16).fill(0.25) }, { text });
}

async function writeFolder(): Promise<string> {
  const dir = await tempDir();
  const scans = join(dir, "scans");
  await copy(NIH_PNGS[1], join(scans, "b/00000001_002.png"));
  await copy(NIH_PNGS[0], join(scans, "a/00000001_001.png"));
  await copy(DICOM_PA, join(scans, "a/study.dcm"));
  await write(join(scans, "notes.txt"), "not an image");
  return scans;
}

kitTest("index lists sorted images with reports and labels", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  const before = filesUnder(scans);
  await write(
    join(scans, "../reports.csv"),
    'image,findings,other\n00000001_001.png,"Heart size normal.\n Lungs clear.",x\nstudy,Left effusion.,y\nmissing,Unused.,z\n',
  );
  await write(
    join(scans, "../labels.csv"),
    "image,Cardiomegaly,Effusion\n00000001_002,1.0,-1.0\nstudy,0.0,\n",
  );
  await indexCommand.run([
    scans,
    "--reports",
    join(scans, "../reports.csv"),
    "--key-column",
    "image",
    "--text-column",
    "findings",
    "--labels",
    join(scans, "../labels.csv"),
    "-q",
  ]);
  assert.deepEqual(await readJson(join(scans, "index.json")), {
    "000000": { path: "a/00000001_001.png", key: "00000001_001", report: "Heart size normal. Lungs clear." },
    "000001": { path: "a/study.dcm", key: "study", report: "Left effusion.", class_label: [-1, 0] },
    "000002": { path: "b/00000001_002.png", key: "00000001_002", class_label: [1, 0] },
  });
  assert.deepEqual(await readJson(join(scans, "classes.json")), ["Cardiomegaly", "Effusion"]);
  assert.deepEqual(
    filesUnder(scans),
    [...before, "classes.json", "index.json"].sort(),
    "no image is copied or changed",
  );
});

kitTest("index writes no classes.json without --labels", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await indexCommand.run([scans, "-q"]);
  assert.ok(!filesUnder(scans).includes("classes.json"));
});

kitTest("index refuses to replace classes.json without --overwrite", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await write(join(scans, "classes.json"), "[]\n");
  await write(join(scans, "../labels.csv"), "key,Edema\nstudy,1\n");
  await assert.rejects(
    indexCommand.run([scans, "--labels", join(scans, "../labels.csv"), "-q"]),
    /classes\.json: already exists; choose another name or pass --overwrite/,
  );
  assert.ok(!filesUnder(scans).includes("index.json"), "index.json is not written when classes.json is rejected");
});

kitTest("index --overwrite without --labels removes a stale classes.json", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await write(join(scans, "../labels.csv"), "key,Edema\nstudy,1\n");
  await indexCommand.run([scans, "--labels", join(scans, "../labels.csv"), "-q"]);
  assert.ok(filesUnder(scans).includes("classes.json"));
  await indexCommand.run([scans, "--overwrite", "-q"]);
  assert.ok(!filesUnder(scans).includes("classes.json"), "classes.json described the replaced index");
  const entries = Object.values(await readJson(join(scans, "index.json")) as Record<string, object>);
  assert.ok(entries.every((entry) => !("class_label" in entry)));
});

kitTest("index keeps a stale classes.json without --overwrite and warns", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await write(join(scans, "classes.json"), '["Old"]\n');
  const lines = await captureStderr(() => indexCommand.run([scans, "-q"]));
  assert.deepEqual(await readJson(join(scans, "classes.json")), ["Old"], "nothing is replaced without --overwrite");
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /classes\.json is left from an earlier index with --labels .*pass --overwrite to remove it/);
});

Deno.test("index rejects a folder without images", async () => {
  const dir = await tempDir();
  await write(join(dir, "notes.txt"), "no images here");
  await assert.rejects(
    indexCommand.run([dir, "-q"]),
    new RegExp(`no PNG, JPEG or DICOM files found under ${dir}`),
  );
  assert.deepEqual(filesUnder(dir), ["notes.txt"], "no index.json is written");
});

Deno.test("index prints the index path without a double slash", async () => {
  const dir = await tempDir();
  await Deno.writeFile(join(dir, "a.png"), pngWithText({}));
  const lines = await captureStderr(() => indexCommand.run([`${dir}/`]));
  assert.deepEqual(lines, [`index: 1 images listed in ${join(dir, "index.json")}`]);
});

kitTest("index warns about images without a report row", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await write(join(scans, "../reports.csv"), "key,report\n00000001_001.png,Lungs clear.\n");
  const lines = await captureStderr(() =>
    indexCommand.run([scans, "--reports", join(scans, "../reports.csv"), "-q"])
  );
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^cheff: warning: index: 2 of 3 images have no row in .*reports\.csv, e\.g\. key 'study'/);
});

Deno.test("index records and warns about synthetic PNGs", async () => {
  const dir = await tempDir();
  await Deno.writeFile(join(dir, "real.png"), pngWithText({ Software: "scanner" }));
  await Deno.writeFile(join(dir, "fake_1.png"), pngWithText({ "cheff:synthetic": "true" }));
  await Deno.writeFile(join(dir, "fake_2.png"), pngWithText({ "cheff:synthetic": "true" }));
  await Deno.writeFile(join(dir, "reconstruction.png"), pngWithText({ "cheff:synthetic": "false" }));
  const lines = await captureStderr(() => indexCommand.run([dir, "-q"]));

  const index = await readJson(join(dir, "index.json"));
  assert.deepEqual(
    Object.values(index).map((entry: any) => [entry.key, entry.synthetic]),
    [["fake_1", true], ["fake_2", true], ["real", undefined], ["reconstruction", undefined]],
  );
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^cheff: warning: .*: 2 of 4 images are synthetic \(PNG text cheff:synthetic=true\)/);
  assert.ok(lines[0].includes(join(dir, "fake_1.png")), lines[0]);
});

kitTest("index refuses to replace index.json without --overwrite", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await indexCommand.run([scans, "-q"]);
  await assert.rejects(
    indexCommand.run([scans, "-q"]),
    /index\.json: already exists; choose another name or pass --overwrite/,
  );
  await indexCommand.run([scans, "--overwrite", "-q"]);
  assert.equal(Object.keys(await readJson(join(scans, "index.json"))).length, 3);
});

kitTest("index names a missing CSV column", [...NIH_PNGS, DICOM_PA], async () => {
  const scans = await writeFolder();
  await write(join(scans, "../r.csv"), "image,text\nx,y\n");
  await assert.rejects(
    indexCommand.run([scans, "--reports", join(scans, "../r.csv"), "--key-column", "image"]),
    /r\.csv: missing column 'report'/,
  );
  await assert.rejects(indexCommand.run([join(scans, "nowhere")]), /nowhere: folder not found/);
  await assert.rejects(indexCommand.run([scans, "--text-column", "t"]), /--text-column needs --reports/);
});

Deno.test("index help has an example", () => {
  assert.match(indexCommand.help, /Example:\n {2}cheff index /);
});

Deno.test("index leaves out files that are not images", async () => {
  const dir = await tempDir();
  await Deno.writeFile(join(dir, "a.png"), pngWithText({}));
  await write(join(dir, "zz_bad.png"), "not a png at all");
  const lines = await captureStderr(() => indexCommand.run([dir, "-q"]));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^cheff: warning: index: left out 1 file\(s\) that do not start like a PNG, JPEG or DICOM file, e\.g\. .*zz_bad\.png$/);
  const index = await readJson(join(dir, "index.json")) as Record<string, { path: string }>;
  assert.deepEqual(Object.values(index).map((entry) => entry.path), ["a.png"]);
});

Deno.test("index rejects a folder of broken images and a file", async () => {
  const dir = await tempDir();
  await write(join(dir, "bad.png"), "garbage");
  await assert.rejects(indexCommand.run([dir, "-q"]), /none of the 1 image file\(s\) starts like a PNG, JPEG or DICOM file/);
  assert.deepEqual(filesUnder(dir), ["bad.png"], "no index.json is written");
  await assert.rejects(indexCommand.run([join(dir, "bad.png"), "-q"]), /bad\.png: is a file, expected a folder of images/);
});

Deno.test("index names the line of an unclosed quote in a CSV", async () => {
  const dir = await tempDir();
  await Deno.writeFile(join(dir, "a.png"), pngWithText({}));
  await write(join(dir, "../reports-quote.csv"), 'key,report\r\na.png,"fine"\r\nb.png,"never closed\r\n');
  await assert.rejects(
    indexCommand.run([dir, "--reports", join(dir, "../reports-quote.csv"), "-q"]),
    /reports-quote\.csv: line 3: a quoted field is never closed/,
  );
});
