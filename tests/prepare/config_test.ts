/** The preparation config: every bad field is rejected with its JSON path before any work. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { validateConfig } from "../../prepare/config.ts";

const GOOD = { cheff: 1, output: "out", datasets: { chexpert: { root: "CheXpert-v1.0" } } };

Deno.test("config defaults and path resolution", () => {
  const config = validateConfig(GOOD, "/data/machex.json");
  assert.equal(config.output, "/data/out");
  assert.equal(config.size, 1024);
  assert.equal(config.quality, 95);
  assert.equal(config.datasets[0].root, join("/data", "CheXpert-v1.0"));
  assert.equal(config.datasets[0].frontalOnly, true);
  assert.equal(config.datasets[0].adapter.name, "chexpert");
});

Deno.test("config names the bad field by JSON path", () => {
  const cases: [unknown, RegExp][] = [
    [[], /^c\.json: \(top level\): expected a JSON object, got an array$/],
    [{ ...GOOD, cheff: 2 }, /^c\.json: cheff: expected 1/],
    [{ ...GOOD, output: 3 }, /^c\.json: output: expected a folder path, got 3$/],
    [{ ...GOOD, size: 0 }, /^c\.json: size: expected an integer from 1 to 16384/],
    [{ ...GOOD, size: 64.5 }, /^c\.json: size: /],
    [{ ...GOOD, quality: 101 }, /^c\.json: quality: expected an integer from 1 to 100, got 101$/],
    [{ ...GOOD, frontal_only: "yes" }, /^c\.json: frontal_only: expected true or false, got 'yes'$/],
    [{ ...GOOD, workers: 4 }, /^c\.json: workers: unknown field/],
    [{ ...GOOD, datasets: {} }, /^c\.json: datasets: expected an object with at least one dataset/],
    [
      { ...GOOD, datasets: { nih: { root: "x" } } },
      /^c\.json: datasets\.nih: unknown dataset 'nih', expected one of chestx-ray14, /,
    ],
    [
      { ...GOOD, datasets: { a: { root: "x", adapter: "nope" } } },
      /^c\.json: datasets\.a\.adapter: unknown dataset 'nope'/,
    ],
    [
      { ...GOOD, datasets: { chexpert: { root: 7 } } },
      /^c\.json: datasets\.chexpert\.root: expected the dataset's folder, got 7$/,
    ],
    [{ ...GOOD, datasets: { chexpert: "x" } }, /^c\.json: datasets\.chexpert: expected an object/],
    [
      { ...GOOD, datasets: { chexpert: { root: "x", csv: 1 } } },
      /^c\.json: datasets\.chexpert\.csv: expected a string/,
    ],
    [
      { ...GOOD, datasets: { "vindr-cxr": { root: "x", split: "val" } } },
      /^c\.json: datasets\.vindr-cxr\.split: invalid value 'val', expected one of train, test$/,
    ],
    [
      { ...GOOD, datasets: { brax: { root: "x", frontal_only: 1 } } },
      /^c\.json: datasets\.brax\.frontal_only: expected true or false/,
    ],
    [
      { ...GOOD, datasets: { "../up": { root: "x", adapter: "brax" } } },
      /^c\.json: datasets\.\.\.\/up: invalid dataset name/,
    ],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => validateConfig(json, "c.json"), (error: Error) => {
      assert.equal(error.name, "CheffError");
      assert.match(error.message, message);
      assert.ok(!error.message.includes("\n"), "the message is one line");
      return true;
    });
  }
});

Deno.test("config accepts every adapter's options", () => {
  const config = validateConfig({
    ...GOOD,
    frontal_only: false,
    datasets: {
      "openi": { root: "openi", projections: "p.csv", projection_column: "view", frontal_only: true },
      "brax": { root: "brax", image_column: "DicomPath" },
      "object-cxr": { root: "o", split: "dev" },
    },
  }, "c.json");
  assert.deepEqual(config.datasets.map((d) => [d.name, d.frontalOnly, d.options]), [
    ["openi", true, { projections: "p.csv", projection_column: "view" }],
    ["brax", false, { image_column: "DicomPath" }],
    ["object-cxr", false, { split: "dev" }],
  ]);
});
