/**
 * Loading PyTorch checkpoints (`torch.save` files: `.pt`, `.ckpt`, `.pth`) without
 * running any of their code.
 *
 * Since PyTorch 1.6 a checkpoint is a zip archive with one top folder, named
 * after the file's stem when it was saved (`ae/`, `archive/`, …), holding
 * `data.pkl` (the pickled object, whose storages are persistent ids
 * `('storage', StorageClass, key, location, numel)`), `data/<key>` (each
 * storage's raw little-endian bytes) and `version`. Older files use the legacy
 * layout read by legacy.ts.
 *
 * @example
 * ```ts
 * const { tree, tensors } = await loadTorchCheckpoint("ae.pt");
 * tensors.get("state_dict.encoder.conv_in.weight"); // {dtype: "F32", shape: [32, 3, 3, 3], data}
 * ```
 */
import { CheffError } from "../errors.ts";
import type { DType, HostTensor } from "../safetensors.ts";
import { isLegacyTorch, loadLegacyTorch } from "./legacy.ts";
import { dictKey, StorageType, type TensorRequest, unpickle } from "./pickle.ts";
import { collectTensors, ELEMENT_BYTES, LoadedTensor, materialise } from "./tensors.ts";
import { bytesSource, fileSource, looksLikeZip, openZip, type ZipArchive } from "./zip.ts";

export type TorchFormat = "torch-zip" | "torch-legacy";

export interface TorchCheckpoint {
  /** The unpickled object; tensors are HostTensors, unknown classes inert placeholders (pickle.ts). */
  tree: unknown;
  /** Every tensor in the tree by dotted path. */
  tensors: Map<string, HostTensor>;
  format: TorchFormat;
}

/** Largest legacy-format file read (legacy files are read whole). */
const MAX_LEGACY_BYTES = 8 * 2 ** 30;

interface ZipStorage {
  key: string;
  dtype: DType;
  /** Elements. */
  numel: number;
}

/**
 * Loads a checkpoint from a path or from bytes in memory. `label` names it in
 * error messages (default: the path). Every failure is a one-line CheffError.
 */
export function loadTorchCheckpoint(input: string | Uint8Array, label?: string): Promise<TorchCheckpoint> {
  return new Promise((resolve) => resolve(loadTorchCheckpointSync(input, label)));
}

/** loadTorchCheckpoint, synchronously. */
export function loadTorchCheckpointSync(input: string | Uint8Array, label?: string): TorchCheckpoint {
  const name = label ?? (typeof input === "string" ? input : "checkpoint");
  const source = typeof input === "string" ? fileSource(input) : bytesSource(input);
  try {
    if (source.size === 0) throw new CheffError(`${name}: empty file, not a PyTorch checkpoint`);
    const head = source.read(0, Math.min(source.size, 512));
    if (looksLikeZip(head)) {
      const tree = loadZipTorch(openZip(source, name), name);
      return { tree, tensors: collectTensors(tree, name), format: "torch-zip" };
    }
    if (head[0] === 0x80) {
      if (!isLegacyTorch(head)) {
        throw new CheffError(`${name}: a plain pickle, not a PyTorch checkpoint (no torch magic number)`);
      }
      if (source.size > MAX_LEGACY_BYTES) {
        throw new CheffError(`${name}: legacy-format checkpoint too large (${source.size} bytes)`);
      }
      const { tree } = loadLegacyTorch(source.read(0, source.size), name);
      return { tree, tensors: collectTensors(tree, name), format: "torch-legacy" };
    }
    if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
      throw new CheffError(
        `${name}: a tar-format PyTorch file (before PyTorch 0.4); re-save it with a newer torch`,
      );
    }
    throw new CheffError(`${name}: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)`);
  } finally {
    source.close();
  }
}

/** True if the first bytes look like a PyTorch checkpoint of either layout. */
export function looksLikeTorch(head: Uint8Array): boolean {
  return looksLikeZip(head) || isLegacyTorch(head);
}

function loadZipTorch(zip: ZipArchive, name: string): unknown {
  const tops = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (tops.length === 0) {
    throw new CheffError(`${name}: a zip archive without <folder>/data.pkl, not a PyTorch checkpoint`);
  }
  if (tops.length > 1) {
    throw new CheffError(
      `${name}: more than one data.pkl (${tops.map((e) => e.name).join(", ")}); cannot tell which to read`,
    );
  }
  const top = tops[0].name.slice(0, -"/data.pkl".length);
  if (zip.get(`${top}/constants.pkl`)) {
    throw new CheffError(
      `${name}: a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the state_dict instead`,
    );
  }
  const byteorder = zip.get(`${top}/byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(zip.read(byteorder)).trim();
    if (order !== "little") {
      throw new CheffError(`${name}: saved with ${order}-endian storages; cheff reads little-endian only`);
    }
  }

  const storages = new Map<string, ZipStorage>();
  const pending = new Map<string, { tensor: LoadedTensor; request: TensorRequest; dtype: DType }[]>();

  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
      throw new CheffError(
        `${name}: damaged checkpoint (unknown persistent id '${dictKey(Array.isArray(pid) ? pid[0] : pid)}')`,
      );
    }
    const [, type, keyValue, , numelValue] = pid;
    if (!(type instanceof StorageType)) {
      throw new CheffError(`${name}: damaged checkpoint (storage without a storage class)`);
    }
    if (!type.dtype) throw new CheffError(`${name}: holds a torch.${type.name}, which cheff cannot read`);
    const key = String(keyValue);
    const numel = Number(numelValue);
    if (!Number.isSafeInteger(numel) || numel < 0) {
      throw new CheffError(`${name}: damaged checkpoint (bad size for storage ${key})`);
    }
    let storage = storages.get(key);
    if (!storage) {
      // An UntypedStorage's size is in bytes; _rebuild_tensor_v3 gives the element type.
      storage = { key, dtype: type.dtype, numel };
      storages.set(key, storage);
    }
    return storage;
  };

  const rebuildTensor = (request: TensorRequest): unknown => {
    const storage = request.storage as ZipStorage;
    if (!storage || typeof storage.key !== "string") {
      throw new CheffError(`${name}: damaged checkpoint (tensor without a storage)`);
    }
    const dtype = request.dtype ?? storage.dtype;
    const tensor = new LoadedTensor(dtype, request.shape, new Float32Array(0));
    let list = pending.get(storage.key);
    if (!list) pending.set(storage.key, list = []);
    list.push({ tensor, request, dtype });
    return tensor;
  };

  const pickle = zip.read(tops[0]);
  const { value } = unpickle(pickle, { source: `${name} (${tops[0].name})`, persistentLoad, rebuildTensor });

  // Fill the tensors storage by storage, reading each storage once.
  for (const [key, list] of pending) {
    const storage = storages.get(key)!;
    const entry = zip.get(`${top}/data/${key}`);
    if (!entry) throw new CheffError(`${name}: truncated or damaged (storage ${top}/data/${key} is missing)`);
    const bytes = zip.read(entry);
    for (const { tensor, request, dtype } of list) {
      const numel = storage.dtype === dtype
        ? storage.numel
        : Math.floor((storage.numel * ELEMENT_BYTES[storage.dtype]) / ELEMENT_BYTES[dtype]);
      if (bytes.byteLength < numel * ELEMENT_BYTES[dtype]) {
        throw new CheffError(
          `${name}: storage ${key} holds ${bytes.byteLength} bytes, fewer than its ${numel} elements need (damaged file)`,
        );
      }
      const adopt = !zip.source.shared && list.length === 1;
      tensor.data = materialise(
        bytes,
        dtype,
        numel,
        request.offset,
        request.shape,
        request.stride,
        `${name}: storage ${key}`,
        adopt,
      );
    }
  }
  return value;
}
