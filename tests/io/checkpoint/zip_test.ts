import assert from "node:assert/strict";
import { bytesSource, crc32, fileSource, openZip } from "../../../io/checkpoint/zip.ts";
import { CheffError } from "../../../io/errors.ts";
import { makeZip } from "./helpers.ts";

const text = (s: string) => new TextEncoder().encode(s);

function refuses(bytes: Uint8Array, pattern: RegExp) {
  assert.throws(
    () => {
      const zip = openZip(bytesSource(bytes), "crafted.zip");
      for (const entry of zip.entries) zip.read(entry);
    },
    (error: unknown) =>
      error instanceof CheffError && pattern.test(error.message) && !error.message.includes("\n"),
  );
}

Deno.test("crc32 gives the standard check value", () => {
  assert.equal(crc32(text("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  // The 8-byte fast path and the byte loop agree at every length.
  const bytes = Uint8Array.from({ length: 37 }, (_, i) => (i * 31 + 7) & 0xff);
  for (let n = 0; n <= bytes.length; n++) {
    let c = 0xffffffff;
    for (let i = 0; i < n; i++) {
      c ^= bytes[i];
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    assert.equal(crc32(bytes.subarray(0, n)), ~c >>> 0);
  }
});

Deno.test("stored and deflated entries read back byte for byte", () => {
  const big = Uint8Array.from({ length: 100_000 }, (_, i) => (i * i) & 0xff);
  const zip = openZip(
    bytesSource(makeZip([
      { name: "a/data.pkl", data: text("hello") },
      { name: "a/data/0", data: big, deflate: true },
      { name: "a/empty", data: new Uint8Array(0) },
    ])),
    "t.zip",
  );
  assert.deepEqual(zip.entries.map((e) => [e.name, e.method, e.size]), [["a/data.pkl", 0, 5], [
    "a/data/0",
    8,
    100_000,
  ], ["a/empty", 0, 0]]);
  assert.deepEqual(zip.read(zip.get("a/data.pkl")!), text("hello"));
  assert.deepEqual(zip.read(zip.get("a/data/0")!), big);
  assert.equal(zip.read(zip.get("a/empty")!).length, 0);
});

Deno.test("zip64 sizes and offsets are read from the extra field", () => {
  const data = Uint8Array.from({ length: 5000 }, (_, i) => i % 251);
  const zip = openZip(
    bytesSource(makeZip([
      { name: "x/data.pkl", data: text("pickle") },
      { name: "x/data/0", data, deflate: true },
    ], { zip64: true })),
    "z64.zip",
  );
  assert.equal(zip.entries.length, 2);
  assert.deepEqual(zip.read(zip.get("x/data/0")!), data);
});

Deno.test("a file source reads the same entries as bytes in memory", async () => {
  const bytes = makeZip([{ name: "f/one", data: text("1") }, {
    name: "f/two",
    data: text("22"),
    deflate: true,
  }]);
  const path = await Deno.makeTempFile({ suffix: ".zip" });
  try {
    await Deno.writeFile(path, bytes);
    const source = fileSource(path);
    const zip = openZip(source, path);
    assert.equal(new TextDecoder().decode(zip.read(zip.get("f/two")!)), "22");
    source.close();
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a real deflate bomb (over 1000:1) is refused before inflating", () => {
  // 5 MB of zeros deflates to about 5 kB: a ratio deflate reaches only on such degenerate data.
  refuses(makeZip([{ name: "b/data/0", data: new Uint8Array(5_000_000), deflate: true }]), /zip bomb/);
});

Deno.test("an entry that lies about its uncompressed size is refused", () => {
  refuses(
    makeZip([{ name: "b/x", data: text("tiny"), deflate: true, declaredSize: 50_000_000 }]),
    /zip bomb/,
  );
  // A lie under the ratio cap: the output is capped at the declared size and fails its CRC.
  refuses(
    makeZip([{ name: "b/x", data: new Uint8Array(4000).fill(1), deflate: true, declaredSize: 100 }]),
    /CRC|inflate/,
  );
});

Deno.test("archives declaring more than 64 GiB in all are refused", () => {
  const claim = { deflate: true, declaredSize: 40 * 2 ** 30, declaredCompressedSize: 100 * 2 ** 20 };
  refuses(
    makeZip([{ name: "b/0", data: text("a"), ...claim }, { name: "b/1", data: text("b"), ...claim }], {
      zip64: true,
    }),
    /64 GiB/,
  );
});

Deno.test("archives with too many entries are refused", () => {
  refuses(
    makeZip([{ name: "b/0", data: text("a") }], { zip64: true, declaredCount: 10_000_000 }),
    /10000000 entries/,
  );
});

Deno.test("overlapping entries (the same bytes under two names) are refused", () => {
  refuses(
    makeZip([{ name: "b/0", data: text("shared") }, { name: "b/1", data: text("other"), headerOf: 0 }]),
    /overlapping/,
  );
});

Deno.test("damaged and truncated archives give one clear line", () => {
  const good = makeZip([{ name: "t/data.pkl", data: text("some bytes here") }]);
  refuses(good.subarray(0, good.length - 30), /truncated|not a zip/);
  refuses(good.subarray(0, 10), /truncated|not a zip/);
  const flipped = good.slice();
  flipped[30 + "t/data.pkl".length + 2] ^= 0xff;
  refuses(flipped, /CRC/);
});
