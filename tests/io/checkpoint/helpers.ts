/**
 * Builders for crafted test inputs: zip archives (stored, deflated, zip64, with
 * lying headers) and small pickles, so the reader's refusals can be tested on
 * files made to be hostile.
 */
import { deflateSync } from "fflate";
import { crc32 } from "../../../io/checkpoint/zip.ts";

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Deflate the entry (default: stored). */
  deflate?: boolean;
  /** Override the sizes written in the central directory (to lie about them). */
  declaredSize?: number;
  declaredCompressedSize?: number;
  /** Point this entry's central record at another entry's local header (by index). */
  headerOf?: number;
}

export interface ZipOptions {
  /** Write zip64 extras and end records even for small archives. */
  zip64?: boolean;
  /** Override the entry count in the end record(s). */
  declaredCount?: number;
}

/** Writes a zip archive byte for byte as the tests describe it. */
export function makeZip(inputs: ZipInput[], options: ZipOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (bytes: Uint8Array) => {
    chunks.push(bytes);
    offset += bytes.length;
  };
  const encoder = new TextEncoder();
  const records: {
    name: Uint8Array;
    crc: number;
    method: number;
    size: number;
    compressed: number;
    at: number;
  }[] = [];
  for (const input of inputs) {
    const name = encoder.encode(input.name);
    const body = input.deflate ? deflateSync(input.data, { level: 9 }) : input.data;
    const crc = crc32(input.data);
    const header = new Uint8Array(30);
    const h = new DataView(header.buffer);
    h.setUint32(0, 0x04034b50, true);
    h.setUint16(4, 20, true);
    h.setUint16(8, input.deflate ? 8 : 0, true);
    h.setUint32(14, crc, true);
    h.setUint32(18, options.zip64 ? 0xffffffff : body.length, true);
    h.setUint32(22, options.zip64 ? 0xffffffff : input.data.length, true);
    h.setUint16(26, name.length, true);
    records.push({
      name,
      crc,
      method: input.deflate ? 8 : 0,
      size: input.declaredSize ?? input.data.length,
      compressed: input.declaredCompressedSize ?? body.length,
      at: offset,
    });
    push(header);
    push(name);
    push(body);
  }
  const directoryStart = offset;
  inputs.forEach((input, i) => {
    const r = records[i];
    const at = input.headerOf !== undefined ? records[input.headerOf].at : r.at;
    const extra = options.zip64 ? new Uint8Array(28) : new Uint8Array(0);
    if (options.zip64) {
      const e = new DataView(extra.buffer);
      e.setUint16(0, 0x0001, true);
      e.setUint16(2, 24, true);
      e.setBigUint64(4, BigInt(r.size), true);
      e.setBigUint64(12, BigInt(r.compressed), true);
      e.setBigUint64(20, BigInt(at), true);
    }
    const central = new Uint8Array(46);
    const c = new DataView(central.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, r.method, true);
    c.setUint32(16, r.crc, true);
    c.setUint32(20, options.zip64 ? 0xffffffff : r.compressed, true);
    c.setUint32(24, options.zip64 ? 0xffffffff : r.size, true);
    c.setUint16(28, r.name.length, true);
    c.setUint16(30, extra.length, true);
    c.setUint32(42, options.zip64 ? 0xffffffff : at, true);
    push(central);
    push(r.name);
    push(extra);
  });
  const directorySize = offset - directoryStart;
  const count = options.declaredCount ?? inputs.length;
  if (options.zip64) {
    const end64At = offset;
    const end64 = new Uint8Array(56);
    const e = new DataView(end64.buffer);
    e.setUint32(0, 0x06064b50, true);
    e.setBigUint64(4, 44n, true);
    e.setBigUint64(24, BigInt(count), true);
    e.setBigUint64(32, BigInt(count), true);
    e.setBigUint64(40, BigInt(directorySize), true);
    e.setBigUint64(48, BigInt(directoryStart), true);
    push(end64);
    const locator = new Uint8Array(20);
    const l = new DataView(locator.buffer);
    l.setUint32(0, 0x07064b50, true);
    l.setBigUint64(8, BigInt(end64At), true);
    l.setUint32(16, 1, true);
    push(locator);
  }
  const end = new Uint8Array(22);
  const d = new DataView(end.buffer);
  d.setUint32(0, 0x06054b50, true);
  d.setUint16(8, options.zip64 ? 0xffff : count, true);
  d.setUint16(10, options.zip64 ? 0xffff : count, true);
  d.setUint32(12, options.zip64 ? 0xffffffff : directorySize, true);
  d.setUint32(16, options.zip64 ? 0xffffffff : directoryStart, true);
  push(end);
  const out = new Uint8Array(offset);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** A tiny pickle assembler: opcodes as bytes, strings as BINUNICODE. */
export class PickleWriter {
  private parts: number[] = [0x80, 2];
  op(...bytes: number[]): this {
    return this.raw(bytes);
  }
  /** Appends many bytes (no argument spreading, so any length works). */
  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]);
    return this;
  }
  /** GLOBAL module\nname\n */
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(text: string): this {
    const bytes = new TextEncoder().encode(text);
    const length = new Uint8Array(new Uint32Array([bytes.length]).buffer);
    return this.op(0x58, ...length, ...bytes);
  }
  int(value: number): this {
    const bytes = new Uint8Array(new Int32Array([value]).buffer);
    return this.op(0x4a, ...bytes);
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  reduce(): this {
    return this.op(0x52);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  binpersid(): this {
    return this.op(0x51);
  }
  false(): this {
    return this.op(0x89);
  }
  stop(): Uint8Array {
    return Uint8Array.from(this.parts.concat([0x2e]));
  }
}

/** Little-endian float32 bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * A torch-zip checkpoint `{name: tensor}` with one float32 storage per tensor
 * (`_rebuild_tensor_v2`), saved under the top folder `top`.
 */
export function makeTorchZip(
  top: string,
  tensors: { name: string; values: number[]; shape: number[]; stride?: number[]; offset?: number }[],
  options: { deflate?: boolean } = {},
): Uint8Array {
  const p = new PickleWriter().emptyDict().mark();
  tensors.forEach((t, i) => {
    p.str(t.name).global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark().str("storage").global("torch", "FloatStorage").str(String(i)).str("cpu").int(t.values.length)
      .tuple().binpersid();
    p.int(t.offset ?? 0);
    p.mark();
    for (const d of t.shape) p.int(d);
    p.tuple().mark();
    const stride = t.stride ?? t.shape.map((_, k) => t.shape.slice(k + 1).reduce((a, b) => a * b, 1));
    for (const s of stride) p.int(s);
    p.tuple().false().global("collections", "OrderedDict").op(0x29).reduce().tuple().reduce();
  });
  p.setitems();
  return makeZip([
    { name: `${top}/data.pkl`, data: p.stop(), deflate: options.deflate },
    ...tensors.map((t, i) => ({
      name: `${top}/data/${i}`,
      data: f32Bytes(t.values),
      deflate: options.deflate,
    })),
    { name: `${top}/version`, data: new TextEncoder().encode("3\n") },
  ]);
}
