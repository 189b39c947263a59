/** The text parsers of preparation: CSV, MIMIC-CXR report sections, Open-i XML, label mapping. */
import assert from "node:assert/strict";
import { mapChexpertLabel } from "../../prepare/adapters/common.ts";
import { extractFindingsAndImpression } from "../../prepare/adapters/mimic_cxr.ts";
import { parseOpenIReport } from "../../prepare/adapters/openi.ts";
import { parseCsv, requireColumns } from "../../prepare/csv.ts";

Deno.test("csv reads quotes, CRLF and a byte-order mark", () => {
  const table = parseCsv('\ufeffImageId, EncodedPixels\r\n"a,1","say ""hi""\nthere"\r\n\r\nb,-1', "t.csv");
  assert.deepEqual(table.header, ["ImageId", "EncodedPixels"]);
  assert.deepEqual(table.rows, [
    { ImageId: "a,1", EncodedPixels: 'say "hi"\nthere' },
    { ImageId: "b", EncodedPixels: "-1" },
  ]);
});

Deno.test("csv missing column counts unlisted columns", () => {
  const wide = parseCsv(Array.from({ length: 15 }, (_, i) => `c${i}`).join(",") + "\n", "wide.csv");
  assert.throws(
    () => requireColumns(wide, ["Path"]),
    /wide\.csv: missing column 'Path' \(found: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11 …and 3 more\)$/,
  );
  const narrow = parseCsv("a,b\n", "narrow.csv");
  assert.throws(() => requireColumns(narrow, ["Path"]), /narrow\.csv: missing column 'Path' \(found: a, b\)$/);
});

Deno.test("csv rejects an empty file", () => {
  assert.throws(() => parseCsv("", "e.csv"), /e\.csv: empty CSV file/);
});

Deno.test("chexpert label mapping", () => {
  const where = () => "f.csv: line 2";
  assert.equal(mapChexpertLabel("1.0", where), 1);
  assert.equal(mapChexpertLabel("1", where), 1);
  assert.equal(mapChexpertLabel("0.0", where), -1);
  assert.equal(mapChexpertLabel("-1.0", where), 0);
  assert.equal(mapChexpertLabel("", where), 0);
  assert.throws(
    () => mapChexpertLabel("yes", where),
    /f\.csv: line 2: invalid label 'yes', expected 1, 0, -1 or blank/,
  );
});

Deno.test("mimic report keeps findings then impression", () => {
  const report = " FINAL REPORT\n EXAMINATION: CHEST\n\n INDICATION: cough\n\n COMPARISON: None.\n\n" +
    " IMPRESSION:\n No acute process.\n\n FINDINGS:\n Lungs are clear.\n Heart size normal.\n\n RECOMMENDATION(S): Follow up.\n";
  assert.equal(extractFindingsAndImpression(report), "Lungs are clear. Heart size normal. No acute process.");
  assert.equal(extractFindingsAndImpression(" WET READ: ___\n INDICATION: x\n"), "");
  assert.equal(extractFindingsAndImpression("FINDINGS: Clear lungs.\n"), "Clear lungs.");
});

Deno.test("openi report lists images and sections", () => {
  const xml = '<eCitation><uId id="CXR9"/><Abstract><AbstractText Label="FINDINGS"/>' +
    '<AbstractText Label="IMPRESSION">Heart &amp; lungs\n normal.</AbstractText></Abstract>' +
    '<parentImage id="CXR9_IM-2407-1001"><url>/x.jpg</url></parentImage><parentImage id="CXR9_IM-2407-2001"></parentImage></eCitation>';
  const { imageIds, report } = parseOpenIReport(xml);
  assert.deepEqual(imageIds, ["CXR9_IM-2407-1001", "CXR9_IM-2407-2001"]);
  assert.equal(report, "Heart & lungs normal.");
});
