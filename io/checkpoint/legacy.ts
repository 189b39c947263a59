/**
 * The PyTorch file layout before 1.6 (`torch.save(..., _use_new_zipfile_serialization=False)`):
 * five pickles in a row, then the storages' bytes.
 *
 * 1. the magic number 0x1950a86a20f9469cfc6c;
 * 2. the protocol version, 1001;
 * 3. sys_info: `{protocol_version, little_endian, type_sizes}`;
 * 4. the object, whose storages are persistent ids
 *    `('storage', StorageClass, root_key, location, numel, view_metadata)`, where
 *    view_metadata is None or `(view_key, offset, size)` for a slice of the root;
 * 5. the list of root storage keys, in the order their bytes follow;
 *
 * then, for each key, an 8-byte little-endian element count and the raw elements.
 */
import { CheffError } from "../errors.ts";
import type { DType } from "../safetensors.ts";
import { dictKey, PickleObject, StorageType, type TensorRequest, unpickle } from "./pickle.ts";
import { ELEMENT_BYTES, LoadedTensor, materialise } from "./tensors.ts";

export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
export const LEGACY_PROTOCOL = 1001;

interface LegacyStorage {
  rootKey: string;
  dtype: DType;
  /** Elements of the root storage. */
  rootNumel: number;
  /** A view's first element within the root, and its length. */
  offset: number;
  numel: number;
}

/** True if `bytes` starts with a pickle holding torch's legacy magic number. */
export function isLegacyTorch(bytes: Uint8Array): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x80) return false;
  try {
    return unpickle(bytes.subarray(0, Math.min(bytes.length, 64)), { source: "" }).value === LEGACY_MAGIC;
  } catch {
    return false;
  }
}

/** Reads a legacy-format checkpoint held in memory. Tensors in the returned tree are LoadedTensors. */
export function loadLegacyTorch(bytes: Uint8Array, source: string): { tree: unknown } {
  const magic = unpickle(bytes, { source }, 0);
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheffError(`${source}: not a PyTorch checkpoint (a pickle without torch's magic number)`);
  }
  const protocol = unpickle(bytes, { source }, magic.end);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new CheffError(
      `${source}: unsupported legacy PyTorch protocol ${
        dictKey(protocol.value)
      } (expected ${LEGACY_PROTOCOL})`,
    );
  }
  const sysInfo = unpickle(bytes, { source }, protocol.end);
  const info = sysInfo.value as Record<string, unknown> | null;
  if (info && typeof info === "object" && info.little_endian === false) {
    throw new CheffError(
      `${source}: saved on a big-endian machine; cheff reads little-endian checkpoints only`,
    );
  }

  const storages = new Map<string, LegacyStorage>();
  const roots = new Map<string, { dtype: DType; numel: number }>();
  const pending: { tensor: LoadedTensor; storage: LegacyStorage; request: TensorRequest }[] = [];

  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid.length === 0) {
      throw new CheffError(`${source}: damaged checkpoint (bad persistent id)`);
    }
    if (pid[0] === "module") return new PickleObject("torch.nn.Module (legacy source record)", pid.slice(1));
    if (pid[0] !== "storage" || pid.length < 6) {
      throw new CheffError(`${source}: damaged checkpoint (unknown persistent id '${dictKey(pid[0])}')`);
    }
    const [, type, rootKeyValue, , numelValue, viewMetadata] = pid;
    if (!(type instanceof StorageType)) {
      throw new CheffError(`${source}: damaged checkpoint (storage without a storage class)`);
    }
    if (!type.dtype) throw new CheffError(`${source}: holds a torch.${type.name}, which cheff cannot read`);
    const rootKey = String(rootKeyValue);
    const numel = Number(numelValue);
    if (!Number.isSafeInteger(numel) || numel < 0) {
      throw new CheffError(`${source}: damaged checkpoint (bad storage size)`);
    }
    const root = roots.get(rootKey);
    if (root && (root.dtype !== type.dtype || root.numel !== numel)) {
      throw new CheffError(`${source}: damaged checkpoint (storage ${rootKey} declared twice differently)`);
    }
    roots.set(rootKey, { dtype: type.dtype, numel });
    let key = rootKey;
    let offset = 0;
    let viewNumel = numel;
    if (Array.isArray(viewMetadata)) {
      key = String(viewMetadata[0]);
      offset = Number(viewMetadata[1]);
      viewNumel = Number(viewMetadata[2]);
      if (!(offset >= 0 && viewNumel >= 0 && offset + viewNumel <= numel)) {
        throw new CheffError(`${source}: damaged checkpoint (storage view ${key} out of range)`);
      }
    }
    let storage = storages.get(key);
    if (!storage) {
      storage = { rootKey, dtype: type.dtype, rootNumel: numel, offset, numel: viewNumel };
      storages.set(key, storage);
    }
    return storage;
  };

  const rebuildTensor = (request: TensorRequest): unknown => {
    const storage = request.storage as LegacyStorage;
    if (!storage || typeof storage.rootKey !== "string") {
      throw new CheffError(`${source}: damaged checkpoint (tensor without a storage)`);
    }
    const tensor = new LoadedTensor(storage.dtype, request.shape, new Float32Array(0));
    pending.push({ tensor, storage, request });
    return tensor;
  };

  const object = unpickle(bytes, { source, persistentLoad, rebuildTensor }, sysInfo.end);
  const keyList = unpickle(bytes, { source }, object.end);
  if (!Array.isArray(keyList.value)) {
    throw new CheffError(`${source}: damaged checkpoint (no storage key list)`);
  }

  // The storages' bytes, in key-list order.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let at = keyList.end;
  for (const keyValue of keyList.value) {
    const key = String(keyValue);
    const root = roots.get(key);
    if (!root) throw new CheffError(`${source}: damaged checkpoint (storage ${key} has bytes but no tensor)`);
    if (at + 8 > bytes.length) {
      throw new CheffError(`${source}: truncated (storage ${key} is missing; the file is incomplete)`);
    }
    const count = Number(view.getBigInt64(at, true));
    at += 8;
    if (count !== root.numel) {
      throw new CheffError(
        `${source}: damaged checkpoint (storage ${key} holds ${count} elements, ${root.numel} declared)`,
      );
    }
    const length = count * ELEMENT_BYTES[root.dtype];
    if (at + length > bytes.length) {
      throw new CheffError(`${source}: truncated (storage ${key} ends past the end of the file)`);
    }
    data.set(key, bytes.subarray(at, at + length));
    at += length;
  }

  for (const { tensor, storage, request } of pending) {
    const bytesOf = data.get(storage.rootKey);
    if (!bytesOf) {
      throw new CheffError(
        `${source}: truncated or damaged (the bytes of storage ${storage.rootKey} are missing)`,
      );
    }
    const viewBytes = bytesOf.subarray(storage.offset * ELEMENT_BYTES[storage.dtype]);
    tensor.data = materialise(
      viewBytes,
      storage.dtype,
      storage.numel,
      request.offset,
      request.shape,
      request.stride,
      source,
    );
  }
  return { tree: object.value };
}
