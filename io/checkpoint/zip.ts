/**
 * A read-only zip reader for PyTorch checkpoints (`torch.save` writes a zip of
 * stored entries; other tools may deflate them). It reads the central
 * directory, never trusts a local header's sizes, checks every entry's CRC-32,
 * and refuses archives shaped like zip bombs before inflating anything:
 * overlapping entries, more than MAX_ENTRIES entries, more than
 * MAX_TOTAL_UNCOMPRESSED bytes declared in all, or a deflated entry that claims
 * to expand more than MAX_DEFLATE_RATIO times (deflate itself cannot exceed
 * about 1032:1, so a higher claim is a lie).
 *
 * Bytes come from a ByteSource: a whole file in memory, or an open file read at
 * offsets, so a multi-gigabyte checkpoint is never held twice.
 *
 * @example
 * ```ts
 * const zip = openZip(fileSource("ae.pt"), "ae.pt");
 * const pickle = zip.read(zip.get("ae/data.pkl")!);
 * ```
 */
import { inflateSync } from "fflate";
import { CheffError } from "../errors.ts";

/** Random access to the bytes of a file or buffer. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset`; callers check bounds against `size` first. */
  read(offset: number, length: number): Uint8Array;
  /** True when read() returns views into a shared buffer (so callers must copy before keeping them). */
  readonly shared: boolean;
  close(): void;
}

/** A ByteSource over bytes already in memory; read() returns subarrays (no copies). */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    shared: true,
    read: (offset, length) => bytes.subarray(offset, offset + length),
    close: () => {},
  };
}

/** A ByteSource over an open file; each read() is a fresh buffer. */
export function fileSource(path: string): ByteSource {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheffError(`${path}: file not found`);
    if (error instanceof Deno.errors.PermissionDenied) throw new CheffError(`${path}: permission denied`);
    throw new CheffError(`${path}: cannot be read (${(error as Error).message})`);
  }
  const stat = file.statSync();
  if (stat.isDirectory) {
    file.close();
    throw new CheffError(`${path}: is a folder, expected a file`);
  }
  return {
    size: stat.size,
    shared: false,
    read(offset, length) {
      const out = new Uint8Array(length);
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = file.readSync(out.subarray(got));
        if (n === null || n === 0) throw new CheffError(`${path}: file ended early (truncated?)`);
        got += n;
      }
      return out;
    },
    close: () => file.close(),
  };
}

/** Over this many entries an archive is refused. A full-size checkpoint has a few thousand. */
export const MAX_ENTRIES = 1 << 18;
/** Over this many uncompressed bytes in all an archive is refused (64 GiB). */
export const MAX_TOTAL_UNCOMPRESSED = 64 * 2 ** 30;
/** A deflated entry claiming more than this expansion is refused. */
export const MAX_DEFLATE_RATIO = 1000;

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the local header. */
  headerOffset: number;
  /** Offset of the entry's data (after the local header, name and extra field). */
  dataOffset: number;
}

export interface ZipArchive {
  entries: ZipEntry[];
  get(name: string): ZipEntry | undefined;
  /** The entry's uncompressed bytes, CRC-checked. May be a view into a shared buffer (see ByteSource.shared). */
  read(entry: ZipEntry): Uint8Array;
  source: ByteSource;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_END64_LOCATOR = 0x07064b50;

/** True if `head` starts like a zip archive (a local header or an empty archive's end record). */
export function looksLikeZip(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const sig = head[0] | (head[1] << 8) | (head[2] << 16) | (head[3] << 24);
  return (sig >>> 0) === SIG_LOCAL || (sig >>> 0) === SIG_END;
}

function u64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.POSITIVE_INFINITY;
  return Number(value);
}

/**
 * Opens a zip archive: finds the end record (zip64 too), reads the central
 * directory and every local header, and applies the zip-bomb checks.
 * `name` labels error messages.
 */
export function openZip(source: ByteSource, name: string): ZipArchive {
  const fail = (why: string): never => {
    throw new CheffError(`${name}: ${why}`);
  };
  const size = source.size;
  if (size < 22) fail(`not a zip archive or truncated (${size} bytes)`);

  // The end record sits in the last 22 + 65535 (comment) bytes.
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = source.read(size - tailLength, tailLength);
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let endAt = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (tailView.getUint32(i, true) === SIG_END && i + 22 + tailView.getUint16(i + 20, true) <= tailLength) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) fail("truncated or not a zip archive (no end-of-central-directory record)");

  let entryCount = tailView.getUint16(endAt + 10, true);
  let directorySize = tailView.getUint32(endAt + 12, true);
  let directoryOffset = tailView.getUint32(endAt + 16, true);
  const endOffset = size - tailLength + endAt;
  if (entryCount === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    if (endOffset < 20) fail("damaged zip64 archive (no zip64 locator)");
    const locator = source.read(endOffset - 20, 20);
    const lv = new DataView(locator.buffer, locator.byteOffset, 20);
    if (lv.getUint32(0, true) !== SIG_END64_LOCATOR) fail("damaged zip64 archive (no zip64 locator)");
    const end64Offset = u64(lv, 8);
    if (!(end64Offset + 56 <= endOffset)) fail("damaged zip64 archive (zip64 end record out of range)");
    const end64 = source.read(end64Offset, 56);
    const ev = new DataView(end64.buffer, end64.byteOffset, 56);
    if (ev.getUint32(0, true) !== SIG_END64) fail("damaged zip64 archive (bad zip64 end record)");
    entryCount = u64(ev, 32);
    directorySize = u64(ev, 40);
    directoryOffset = u64(ev, 48);
  }
  if (entryCount > MAX_ENTRIES) {
    fail(`refusing a zip archive of ${entryCount} entries (more than ${MAX_ENTRIES})`);
  }
  if (!(directoryOffset + directorySize <= endOffset)) {
    fail("truncated or damaged zip archive (central directory out of range)");
  }

  const directory = source.read(directoryOffset, directorySize);
  const dv = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  let at = 0;
  let totalSize = 0;
  for (let i = 0; i < entryCount; i++) {
    if (at + 46 > directorySize || dv.getUint32(at, true) !== SIG_CENTRAL) {
      fail("damaged zip archive (bad central directory entry)");
    }
    const flags = dv.getUint16(at + 8, true);
    const method = dv.getUint16(at + 10, true);
    const crc32 = dv.getUint32(at + 16, true);
    let compressedSize = dv.getUint32(at + 20, true);
    let uncompressedSize = dv.getUint32(at + 24, true);
    const nameLength = dv.getUint16(at + 28, true);
    const extraLength = dv.getUint16(at + 30, true);
    const commentLength = dv.getUint16(at + 32, true);
    let headerOffset = dv.getUint32(at + 42, true);
    if (at + 46 + nameLength + extraLength + commentLength > directorySize) {
      fail("damaged zip archive (central directory entry overruns)");
    }
    const entryName = decoder.decode(directory.subarray(at + 46, at + 46 + nameLength));
    // zip64 extended information: only the fields that were 0xffffffff, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = dv.getUint16(extra, true);
      const length = dv.getUint16(extra + 2, true);
      if (id === 0x0001) {
        let p = extra + 4;
        const end = p + length;
        if (uncompressedSize === 0xffffffff && p + 8 <= end) (uncompressedSize = u64(dv, p)), (p += 8);
        if (compressedSize === 0xffffffff && p + 8 <= end) (compressedSize = u64(dv, p)), (p += 8);
        if (headerOffset === 0xffffffff && p + 8 <= end) (headerOffset = u64(dv, p)), (p += 8);
      }
      extra += 4 + length;
    }
    if (flags & 1) fail(`entry '${entryName}' is encrypted`);
    if (method !== 0 && method !== 8) {
      fail(`entry '${entryName}' uses compression method ${method} (only stored and deflated are read)`);
    }
    if (method === 0 && compressedSize !== uncompressedSize) {
      fail(
        `damaged zip archive (stored entry '${entryName}' has different compressed and uncompressed sizes)`,
      );
    }
    if (method === 8 && uncompressedSize > MAX_DEFLATE_RATIO * Math.max(compressedSize, 1)) {
      fail(
        `refusing entry '${entryName}': it claims to inflate ${compressedSize} bytes to ${uncompressedSize} ` +
          `(more than ${MAX_DEFLATE_RATIO}:1, a zip bomb)`,
      );
    }
    totalSize += uncompressedSize;
    if (totalSize > MAX_TOTAL_UNCOMPRESSED) {
      fail(
        `refusing a zip archive that claims more than ${
          MAX_TOTAL_UNCOMPRESSED / 2 ** 30
        } GiB uncompressed (a zip bomb?)`,
      );
    }
    entries.push({
      name: entryName,
      method,
      compressedSize,
      size: uncompressedSize,
      crc32,
      headerOffset,
      dataOffset: 0,
    });
    at += 46 + nameLength + extraLength + commentLength;
  }

  // Local headers: where each entry's data starts. Entries must not overlap one another or the directory.
  for (const entry of entries) {
    if (!(entry.headerOffset + 30 <= directoryOffset)) {
      fail(`truncated or damaged zip archive (entry '${entry.name}' lies outside the data area)`);
    }
    const local = source.read(entry.headerOffset, 30);
    const lv = new DataView(local.buffer, local.byteOffset, 30);
    if (lv.getUint32(0, true) !== SIG_LOCAL) {
      fail(`damaged zip archive (no local header for entry '${entry.name}')`);
    }
    entry.dataOffset = entry.headerOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    if (!(entry.dataOffset + entry.compressedSize <= directoryOffset)) {
      fail(`truncated or damaged zip archive (entry '${entry.name}' runs past the data area)`);
    }
  }
  const byOffset = [...entries].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < byOffset.length; i++) {
    const previous = byOffset[i - 1];
    if (byOffset[i].headerOffset < previous.dataOffset + previous.compressedSize) {
      fail(
        `refusing a zip archive with overlapping entries ('${previous.name}' and '${
          byOffset[i].name
        }'; a zip bomb?)`,
      );
    }
  }

  const byName = new Map<string, ZipEntry>();
  for (const entry of entries) {
    if (byName.has(entry.name)) fail(`damaged zip archive (entry '${entry.name}' appears twice)`);
    byName.set(entry.name, entry);
  }

  return {
    entries,
    source,
    get: (entryName) => byName.get(entryName),
    read(entry) {
      const raw = source.read(entry.dataOffset, entry.compressedSize);
      let data: Uint8Array;
      if (entry.method === 0) {
        data = raw;
      } else {
        data = new Uint8Array(entry.size);
        try {
          // Output is capped at the declared size; a stream that would give more fails the CRC below.
          data = inflateSync(raw, { out: data });
        } catch (error) {
          fail(`entry '${entry.name}' does not inflate (${(error as Error).message}; truncated or damaged)`);
        }
        if (data.length !== entry.size) {
          fail(`entry '${entry.name}' inflates to ${data.length} bytes, not the ${entry.size} declared`);
        }
      }
      if (crc32(data) !== entry.crc32) {
        fail(`entry '${entry.name}' fails its CRC check (damaged or truncated file)`);
      }
      return data;
    },
  };
}

let crcTables: Uint32Array[] | undefined;

function tables(): Uint32Array[] {
  if (crcTables) return crcTables;
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k][n] = (t[0][t[k - 1][n] & 0xff] ^ (t[k - 1][n] >>> 8)) >>> 0;
  }
  crcTables = t;
  return t;
}

/** CRC-32 (the zip and PNG polynomial), slicing by 8 bytes at a time. */
export function crc32(bytes: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables();
  let c = ~initial >>> 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const a = (c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24))) >>> 0;
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[bytes[i + 4]] ^ t2[bytes[i + 5]] ^ t1[bytes[i + 6]] ^ t0[bytes[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
