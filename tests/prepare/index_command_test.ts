/** `cheff index`: an index.json for a folder of images, in place. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { kitTest } from "../kit.ts";
import { indexCommand } from "../../cli/index.ts";
import { copy, DICOM_PA, filesUnder, NIH_PNGS, readJson, tempDir, write } from "./helpers.ts";

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
  assert.deepEqual(filesUnder(scans), [...before, "index.json"].sort(), "no image is copied or changed");
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
