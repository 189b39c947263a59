/**
 * The runner: sharding and merging, resuming an interrupted run, concurrency,
 * skipped files, changed settings, and the absence of DICOM patient data in
 * every output.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { kitTest } from "../kit.ts";
import { prepareCommand } from "../../cli/prepare.ts";
import { defaultCodec, type ImageCodec } from "../../prepare/codec.ts";
import { readConfig } from "../../prepare/config.ts";
import { prepare } from "../../prepare/run.ts";
import {
  copy,
  DICOM_PATIENT_STRINGS,
  filesUnder,
  KIT_FILES,
  NIH_PNGS,
  readPreparedIndex,
  runConfig,
  tempDir,
  write,
  writeConfig,
  writeDicomWithView,
} from "./helpers.ts";

/** Writes a ChestX-ray14 layout with 7 frontal images (one PNG unreadable) and an RSNA layout with 3 DICOMs. */
async function writeDatasets(dir: string) {
  const nih = join(dir, "nih");
  const names = [
    "00000001_001",
    "00000001_002",
    "00000003_000",
    "00000004_000",
    "00000005_000",
    "00000006_000",
    "00000007_000",
  ];
  const rows = names.map((name, i) =>
    `${name}.png,${i % 2 ? "Hernia" : "No Finding"},0,${i},50,F,${i % 3 ? "PA" : "AP"}`
  );
  await write(
    join(nih, "Data_Entry_2017.csv"),
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position\n" +
      rows.join("\n") + "\n",
  );
  for (const [i, name] of names.entries()) {
    if (name === "00000006_000") await write(join(nih, `images/${name}.png`), "not a png");
    else await copy(NIH_PNGS[i % NIH_PNGS.length], join(nih, `images/${name}.png`));
  }
  const rsna = join(dir, "rsna");
  const ids = [
    "0004cfab-14fd-4e49-80ba-63a80b6bddd6",
    "00313ee0-9eaa-42f4-b0ab-c148ed3241cd",
    "00436515-870c-4b36-a041-de91049b9ab4",
  ];
  await write(
    join(rsna, "stage_2_train_labels.csv"),
    "patientId,x,y,width,height,Target\n" + ids.map((id) => `${id},,,,,0`).join("\n") + "\n",
  );
  for (const id of ids) await writeDicomWithView(join(rsna, `stage_2_train_images/${id}.dcm`), "PA");
}

const DATASETS = { "chestx-ray14": { root: "nih" }, "rsna-pneumonia": { root: "rsna" } };

/** Collects every output file but the shard files: JPEGs as SHA-256, text with the temporary folder replaced. */
async function snapshot(base: string, name: string): Promise<Record<string, string>> {
  const folder = join(base, "out", name);
  const files: Record<string, string> = {};
  for (const path of filesUnder(folder)) {
    if (/^(index|skipped)\.shard-/.test(path)) continue;
    const bytes = await Deno.readFile(join(folder, path));
    files[path] = path.endsWith(".jpg")
      ? Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("")
      : new TextDecoder().decode(bytes).replaceAll(base, "<dir>");
  }
  return files;
}

kitTest("two shards merged equal one unsharded run", KIT_FILES, async () => {
  const whole = await tempDir();
  await writeDatasets(whole);
  await runConfig(whole, { datasets: DATASETS });

  const sharded = await tempDir();
  await writeDatasets(sharded);
  await runConfig(sharded, { datasets: DATASETS }, { shard: { index: 1, count: 2 } });
  const half = await readPreparedIndex(join(sharded), "chestx-ray14").catch(() => undefined);
  assert.equal(half, undefined, "a shard run must not write index.json");
  await runConfig(sharded, { datasets: DATASETS }, { shard: { index: 0, count: 2 } });
  await runConfig(sharded, { datasets: DATASETS }, { merge: true });

  for (const name of Object.keys(DATASETS)) {
    assert.deepEqual(await snapshot(sharded, name), await snapshot(whole, name));
  }
  const index = await readPreparedIndex(whole, "chestx-ray14");
  assert.deepEqual(Object.keys(index), ["000000", "000001", "000002", "000003", "000004", "000006"]);
  const shardIndex = JSON.parse(
    await Deno.readTextFile(join(sharded, "out/chestx-ray14/index.shard-0-of-2.json")),
  );
  assert.deepEqual(Object.keys(shardIndex), ["000000", "000002", "000004", "000006"]);
});

kitTest("merge rejects a missing shard", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  await runConfig(dir, { datasets: DATASETS }, { shard: { index: 0, count: 3 }, only: "chestx-ray14" });
  await assert.rejects(
    runConfig(dir, { datasets: DATASETS }, { merge: true, only: "chestx-ray14" }),
    /shard 1\/3, 2\/3 not finished/,
  );
});

kitTest("interrupted run resumes to the same index", KIT_FILES, async () => {
  const whole = await tempDir();
  await writeDatasets(whole);
  await runConfig(whole, { datasets: DATASETS }, { only: "chestx-ray14" });

  const dir = await tempDir();
  await writeDatasets(dir);
  const [first] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14", stopAfter: 3 });
  assert.equal(first.interrupted, true);
  assert.equal(first.written, 3);
  assert.deepEqual(filesUnder(join(dir, "out/chestx-ray14")).filter((p) => p.endsWith(".jpg")), [
    "00/000000.jpg",
    "00/000001.jpg",
    "00/000002.jpg",
  ]);

  let loads = 0;
  const counting: ImageCodec = { ...defaultCodec, load: (path) => (loads++, defaultCodec.load(path)) };
  const [second] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14", codec: counting });
  assert.equal(second.interrupted, false);
  assert.equal(second.written, 3);
  assert.equal(loads, 4, "only the three unwritten images and the unreadable one are loaded again");
  assert.deepEqual(await snapshot(dir, "chestx-ray14"), await snapshot(whole, "chestx-ray14"));
});

kitTest("workers give the same output as one worker", KIT_FILES, async () => {
  const one = await tempDir();
  await writeDatasets(one);
  await runConfig(one, { datasets: DATASETS });
  const four = await tempDir();
  await writeDatasets(four);
  await runConfig(four, { datasets: DATASETS }, { workers: 4 });
  for (const name of Object.keys(DATASETS)) {
    assert.deepEqual(await snapshot(four, name), await snapshot(one, name));
  }
});

kitTest("unreadable image is logged and skipped", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  const [summary] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14" });
  assert.equal(summary.skipped, 1);
  assert.equal(summary.indexed, 6);
  const log = await Deno.readTextFile(join(dir, "out/chestx-ray14/skipped.log"));
  const [id, key, reason] = log.trimEnd().split("\t");
  assert.equal(id, "000005");
  assert.equal(key, "00000006_000");
  assert.match(reason, /not an image|PNG|png/);
});

kitTest("summary counts every line of skipped.log", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  // A row whose file is missing is dropped while planning; 00000006_000 is unreadable.
  await Deno.remove(join(dir, "nih/images/00000007_000.png"));
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  let summary;
  try {
    [summary] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14", quiet: false });
  } finally {
    console.error = original;
  }
  const log = (await Deno.readTextFile(join(dir, "out/chestx-ray14/skipped.log"))).trimEnd().split("\n");
  assert.deepEqual(log.map((line) => line.split("\t").slice(0, 2)), [
    ["-", "00000007_000"],
    ["000005", "00000006_000"],
  ]);
  assert.equal(summary.skipped, 2);
  assert.match(lines.at(-1)!, /chestx-ray14: 5 images indexed, 5 written in this run, 2 skipped \(listed in skipped\.log\)$/);
});

kitTest("failed metadata run leaves no folder and blocks no rerun", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  const wrong = { "chestx-ray14": { root: "nih", metadata: "Data_Entry_2017_v2020.csv" } };
  await assert.rejects(runConfig(dir, { datasets: wrong }), /Data_Entry_2017_v2020\.csv: ChestX-ray14 metadata .* not found/);
  assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name).sort(), ["config.json", "nih", "rsna"]);

  const [summary] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14" });
  assert.equal(summary.indexed, 6);
});

kitTest("other settings are accepted while no image was converted", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  await write(join(dir, "out/chestx-ray14/prepare.json"), '{"cheff": 1, "size": 32}\n');
  const [summary] = await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14" });
  assert.equal(summary.written, 6);
  assert.match(await Deno.readTextFile(join(dir, "out/chestx-ray14/prepare.json")), /"size": 64/);
});

kitTest("changed settings are rejected without --overwrite", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  await runConfig(dir, { datasets: DATASETS }, { only: "chestx-ray14" });
  await assert.rejects(
    runConfig(dir, { size: 32, datasets: DATASETS }, { only: "chestx-ray14" }),
    /prepared with other settings; pass --overwrite/,
  );
  await runConfig(dir, { size: 32, datasets: DATASETS }, { only: "chestx-ray14", overwrite: true });
  await readPreparedIndex(dir, "chestx-ray14", 32);
});

kitTest("outputs carry no DICOM patient identifiers", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  await runConfig(dir, { datasets: DATASETS }, { only: "rsna-pneumonia" });
  const folder = join(dir, "out/rsna-pneumonia");
  const paths = filesUnder(folder);
  assert.ok(paths.includes("00/000002.jpg"));
  for (const path of paths) {
    const text = new TextDecoder("latin1").decode(await Deno.readFile(join(folder, path)));
    for (const identifier of DICOM_PATIENT_STRINGS) {
      assert.ok(!text.includes(identifier), `${path} contains ${identifier}`);
    }
  }
});

kitTest("prepare command runs a config and its shards", KIT_FILES, async () => {
  const dir = await tempDir();
  await writeDatasets(dir);
  const config = await writeConfig(dir, { datasets: DATASETS });
  await prepareCommand.run([config, "--only", "chestx-ray14", "--shard", "0/2", "--workers", "2", "-q"]);
  await prepareCommand.run([config, "--only", "chestx-ray14", "--shard", "1/2", "-q"]);
  await prepareCommand.run([config, "--only", "chestx-ray14", "--merge", "-q"]);
  const index = await readPreparedIndex(dir, "chestx-ray14");
  assert.equal(Object.keys(index).length, 6);
  await assert.rejects(prepareCommand.run([config, "--shard", "3/2"]), /--shard: invalid value '3\/2'/);
  await assert.rejects(
    prepareCommand.run([config, "--only", "padchest"]),
    /--only: no dataset named 'padchest'/,
  );
  await assert.rejects(prepareCommand.run([config, "--merge", "--shard", "0/2"]), /cannot be combined/);
  await assert.rejects(prepareCommand.run([]), /missing CONFIG\.json/);
});

Deno.test("prepare help has an example", () => {
  assert.match(prepareCommand.help, /Examples:\n {2}cheff prepare /);
});

Deno.test("config rejects labels of an unknown adapter before work", async () => {
  const dir = await tempDir();
  const config = await writeConfig(dir, { datasets: { chexpert: { root: "missing", labels: "x.csv" } } });
  await assert.rejects(readConfig(config), /datasets\.chexpert\.labels: unknown field for chexpert/);
  await assert.rejects(
    prepare(await readConfig(await writeConfig(dir, { datasets: { chexpert: { root: "missing" } } })), {
      quiet: true,
    }),
    /CheXpert train\.csv not found/,
  );
});
