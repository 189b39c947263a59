import assert from "node:assert/strict";
import { formatTable, formatValue, histogramSvg, summarize, toJson } from "../../metrics/report.ts";

Deno.test("summary mean keeps +inf psnr and skips NaN", () => {
  const summary = summarize([20, 30, Infinity, NaN]);
  assert.equal(summary.count, 3);
  assert.equal(summary.mean, Infinity);
  assert.equal(summary.infinite, 1);
  assert.equal(summary.max, Infinity);
  assert.equal(summary.min, 20);

  const finite = summarize([1, 3]);
  assert.equal(finite.mean, 2);
  assert.equal(finite.std, 1);
  assert.equal(summarize([NaN]).count, 0);
});

Deno.test("table aligns text left and numbers right", () => {
  const table = formatTable(["metric", "value"], [["fid", 48.33566982681536], ["kid_mean", 1.6175]]);
  assert.equal(table, "metric      value\nfid       48.3357\nkid_mean  1.61750\n");
});

Deno.test("values format non-finite numbers as words", () => {
  assert.equal(formatValue(Infinity), "inf");
  assert.equal(formatValue(-Infinity), "-inf");
  assert.equal(formatValue(NaN), "nan");
  assert.equal(formatValue(null), "-");
  assert.equal(formatValue(1.5e-7), "1.50000e-7");
  assert.equal(formatValue(12), "12");
});

Deno.test("json writes non-finite numbers as strings", () => {
  const parsed = JSON.parse(toJson({ psnr: [Infinity, 21.5], bad: NaN, low: -Infinity }));
  assert.deepEqual(parsed, { psnr: ["inf", 21.5], bad: "nan", low: "-inf" });
});

Deno.test("histogram svg counts every finite value", () => {
  const svg = histogramSvg([1, 2, 2, 3, Infinity], { title: "PSNR <per image>", xLabel: "dB", bins: 2 });
  assert.ok(svg.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  assert.ok(svg.includes("PSNR &lt;per image&gt;"), "the title is escaped");
  assert.ok(svg.includes("4 values, 1 infinite or NaN not shown"));
  const counts = [...svg.matchAll(/<title>[^<]*: (\d+)<\/title>/g)].map((match) => Number(match[1]));
  assert.deepEqual(counts, [1, 3]);
});

Deno.test("histogram of one distinct value still draws a bar", () => {
  const svg = histogramSvg([0.5, 0.5], { title: "t", xLabel: "x", bins: 3 });
  const counts = [...svg.matchAll(/<title>[^<]*: (\d+)<\/title>/g)].map((match) => Number(match[1]));
  assert.deepEqual(counts, [0, 2, 0]);
});
