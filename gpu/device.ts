/**
 * The WebGPU device every kernel runs on: adapter selection, limits, the
 * pipeline cache, batched command recording and GPU error reporting.
 *
 * Dispatches are recorded into one open compute pass and submitted in batches
 * (a dispatch inside a submit costs tens of microseconds on lavapipe, a separate
 * submit over a hundred), so a network call becomes a few submits. Read-back
 * (see tensor.ts) flushes the batch first.
 */
import { CheffError } from "../io/errors.ts";
import { BufferPool } from "./pool.ts";

export type AdapterChoice = "high-performance" | "low-power" | "fallback";
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ["high-performance", "low-power", "fallback"];

/** Dispatches recorded before a submit is forced. */
const MAX_DISPATCHES_PER_SUBMIT = 256;
/** Uniform bytes per dispatch: each parameter block is padded to the uniform offset alignment. */
const UNIFORM_SLOT_BYTES = 256;

/** A scalar field of a kernel's parameter struct, in declaration order. */
export type ParamType = "u32" | "i32" | "f32";
export type ParamLayout = readonly (readonly [string, ParamType])[];

/** A buffer range bound to one storage binding. */
export interface Binding {
  buffer: GPUBuffer;
  offset?: number;
  size: number;
}

export class GpuError extends CheffError {}

let requestedAdapter: AdapterChoice | undefined;
let gpuPromise: Promise<Gpu> | undefined;

/** Chooses the adapter the next `getGpu()` requests. Must be called before the first one. */
export function chooseAdapter(choice: AdapterChoice | undefined): void {
  if (gpuPromise && choice !== requestedAdapter) {
    throw new Error("chooseAdapter: the WebGPU device is already open");
  }
  requestedAdapter = choice;
}

/** Returns the process-wide GPU, opening it on first use. */
export function getGpu(): Promise<Gpu> {
  gpuPromise ??= openGpu(requestedAdapter);
  return gpuPromise;
}

/** True once a device has been requested (so tools can report its adapter). */
export function gpuOpened(): boolean {
  return gpuPromise !== undefined;
}

async function openGpu(choice: AdapterChoice | undefined): Promise<Gpu> {
  // wgpu's Vulkan loader warns on stderr without XDG_RUNTIME_DIR; give it a private folder.
  if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync({ prefix: "cheff-xdg-" }));
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuError("WebGPU is not available in this Deno build: use Deno 2 (npm install deno@2.9.6)");
  }
  const options: GPURequestAdapterOptions = choice === "fallback"
    ? { forceFallbackAdapter: true }
    : choice
    ? { powerPreference: choice }
    : { powerPreference: "high-performance" };
  const adapter = await navigator.gpu.requestAdapter(options);
  if (!adapter) {
    throw new GpuError(
      "no WebGPU adapter found: install a GPU driver with Vulkan support, or Mesa's software driver " +
        "(Debian/Ubuntu: apt-get install mesa-vulkan-drivers)",
    );
  }
  const wanted = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: wanted.maxStorageBufferBindingSize,
      maxBufferSize: wanted.maxBufferSize,
      maxStorageBuffersPerShaderStage: wanted.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: wanted.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: wanted.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: wanted.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: wanted.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: wanted.maxComputeWorkgroupsPerDimension,
    },
  });
  const gpu = new Gpu(adapter, device);
  await gpu.selfTest();
  return gpu;
}

interface PendingScope {
  kernels: string[];
  errors: Promise<GPUError | null>[];
}

export class Gpu {
  readonly device: GPUDevice;
  readonly adapterDescription: string;
  readonly isFallback: boolean;
  /** Largest storage binding in bytes. */
  readonly maxBinding: number;
  readonly maxBufferSize: number;
  readonly maxWorkgroupsPerDimension: number;
  readonly pool: BufferPool;

  private pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private batchKernels: string[] = [];
  private uniformData = new Uint8Array(MAX_DISPATCHES_PER_SUBMIT * UNIFORM_SLOT_BYTES);
  private uniformBuffer: GPUBuffer | undefined;
  private freeUniformBuffers: GPUBuffer[] = [];
  private pendingScopes: PendingScope[] = [];
  private lostReason: string | undefined;
  private uncaptured: string | undefined;
  /** Dispatch count since the device opened, for benchmarks. */
  dispatchCount = 0;

  constructor(adapter: GPUAdapter, device: GPUDevice) {
    this.device = device;
    const info = adapter.info;
    this.adapterDescription = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
      "unknown adapter";
    this.isFallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
    this.maxBinding = device.limits.maxStorageBufferBindingSize;
    this.maxBufferSize = device.limits.maxBufferSize;
    this.maxWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
    this.pool = new BufferPool(device);
    device.lost.then((lost) => {
      this.lostReason = lost.message || lost.reason || "device lost";
    });
    device.addEventListener("uncapturederror", (event) => {
      this.uncaptured ??= (event as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** Returns (and caches) the compute pipeline for a WGSL module's entry point. */
  pipeline(kernel: string, code: string, entryPoint = "main", constants?: Record<string, number>): GPUComputePipeline {
    const key = `${kernel}:${entryPoint}:${constants ? JSON.stringify(constants) : ""}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ code, label: kernel });
      pipeline = this.device.createComputePipeline({
        layout: "auto",
        label: `${kernel}.${entryPoint}`,
        compute: { module, entryPoint, constants },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Records one dispatch: binding 0 is the uniform parameter block (written from
   * `params` in `layout` order), bindings 1… are `storage` in order.
   */
  dispatch(
    kernel: string,
    pipeline: GPUComputePipeline,
    layout: ParamLayout,
    params: Record<string, number>,
    storage: Binding[],
    workgroups: readonly [number, number?, number?],
  ): void {
    this.checkHealthy();
    for (const [i, binding] of storage.entries()) {
      if (binding.size > this.maxBinding) {
        throw new GpuError(
          `${kernel}: binding ${i + 1} is ${(binding.size / 2 ** 20).toFixed(1)} MiB, over this adapter's ` +
            `${(this.maxBinding / 2 ** 20).toFixed(0)} MiB storage binding limit`,
        );
      }
    }
    for (const count of workgroups) {
      if (count !== undefined && count > this.maxWorkgroupsPerDimension) {
        throw new GpuError(`${kernel}: ${count} workgroups in one dimension exceed the adapter's limit`);
      }
    }
    if (this.batchKernels.length >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
    const slot = this.batchKernels.length;
    writeParams(this.uniformData, slot * UNIFORM_SLOT_BYTES, layout, params, kernel);
    if (!this.encoder) {
      this.encoder = this.device.createCommandEncoder();
      this.uniformBuffer = this.freeUniformBuffers.pop() ?? this.device.createBuffer({
        size: this.uniformData.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.pass = this.encoder.beginComputePass();
    }
    const entries: GPUBindGroupEntry[] = [
      {
        binding: 0,
        resource: { buffer: this.uniformBuffer!, offset: slot * UNIFORM_SLOT_BYTES, size: paramBytes(layout) },
      },
      ...storage.map((b, i) => ({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } })),
    ];
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass!.setPipeline(pipeline);
    this.pass!.setBindGroup(0, bindGroup);
    this.pass!.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.batchKernels.push(kernel);
    this.dispatchCount++;
  }

  /** Splits `count` workgroups into a 2-D grid within the per-dimension limit. */
  grid(count: number): [number, number] {
    const max = this.maxWorkgroupsPerDimension;
    if (count <= max) return [Math.max(count, 1), 1];
    const y = Math.ceil(count / max);
    return [Math.ceil(count / y), y];
  }

  /** Submits the recorded dispatches. Errors surface at the next `sync()` or read-back. */
  flush(): void {
    if (!this.encoder) return;
    this.pass!.end();
    this.device.queue.writeBuffer(this.uniformBuffer!, 0, this.uniformData, 0, this.batchKernels.length * UNIFORM_SLOT_BYTES);
    const kernels = [...new Set(this.batchKernels)];
    this.device.pushErrorScope("validation");
    this.device.pushErrorScope("out-of-memory");
    this.device.queue.submit([this.encoder.finish()]);
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    this.pendingScopes.push({ kernels, errors: [oom, validation] });
    const used = this.uniformBuffer!;
    this.device.queue.onSubmittedWorkDone().then(() => this.freeUniformBuffers.push(used));
    this.encoder = undefined;
    this.pass = undefined;
    this.uniformBuffer = undefined;
    this.batchKernels = [];
  }

  /** Flushes and waits until the GPU has finished, turning any GPU error into a GpuError. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /** Throws the first recorded GPU error, naming the kernels of the batch it came from. */
  async checkErrors(): Promise<void> {
    const scopes = this.pendingScopes;
    this.pendingScopes = [];
    for (const scope of scopes) {
      for (const promise of scope.errors) {
        const error = await promise;
        if (error) throw new GpuError(`GPU error in ${scope.kernels.join(", ")}: ${error.message.split("\n")[0]}`);
      }
    }
    this.checkHealthy();
  }

  private checkHealthy(): void {
    if (this.lostReason) throw new GpuError(`the WebGPU device was lost: ${this.lostReason}`);
    if (this.uncaptured) {
      const message = this.uncaptured;
      this.uncaptured = undefined;
      throw new GpuError(`GPU error: ${message.split("\n")[0]}`);
    }
  }

  /** Writes bytes into a buffer, after submitting any recorded work that may still use it. */
  write(buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
    this.flush();
    // Deno has had a writeBuffer size bug with typed arrays of other element sizes: pass bytes.
    this.device.queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>, 0, bytes.byteLength);
  }

  /** Copies `size` bytes of `buffer` from `offset` back to the host. */
  async read(buffer: GPUBuffer, offset: number, size: number): Promise<Uint8Array> {
    const [bytes] = await this.readMany([{ buffer, offset, size }]);
    return bytes;
  }

  /**
   * Copies several buffer ranges back to the host through one staging buffer and
   * one map: on lavapipe each map took about 35 ms (measured), so reading the
   * fifty gradients of an autoencoder training step one by one took 1.7 s.
   */
  async readMany(parts: { buffer: GPUBuffer; offset: number; size: number }[]): Promise<Uint8Array[]> {
    if (parts.length === 0) return [];
    // copyBufferToBuffer needs 4-byte aligned offsets and sizes.
    const starts: number[] = [];
    let total = 0;
    for (const part of parts) {
      starts.push(total);
      total += Math.ceil(part.size / 4) * 4;
    }
    const staging = this.device.createBuffer({
      size: Math.max(total, 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.flush();
    const encoder = this.device.createCommandEncoder();
    parts.forEach((part, i) => {
      if (part.size > 0) encoder.copyBufferToBuffer(part.buffer, part.offset, staging, starts[i], part.size);
    });
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const all = new Uint8Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    await this.checkErrors();
    return parts.map((part, i) => all.subarray(starts[i], starts[i] + part.size));
  }

  /** Runs one tiny kernel and checks its result, so a broken WebGPU stack fails at start-up with a clear line. */
  async selfTest(): Promise<void> {
    const code = `
      struct Params { n: u32, add: f32 }
      @group(0) @binding(0) var<uniform> p: Params;
      @group(0) @binding(1) var<storage, read_write> v: array<f32>;
      @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
        if (g.x < p.n) { v[g.x] = v[g.x] * 2.0 + p.add; }
      }`;
    const n = 100;
    const buffer = this.device.createBuffer({
      size: n * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    const input = new Float32Array(n).map((_, i) => i);
    this.write(buffer, 0, new Uint8Array(input.buffer));
    this.dispatch("self-test", this.pipeline("self-test", code), [["n", "u32"], ["add", "f32"]], { n, add: 0.5 }, [
      { buffer, size: n * 4 },
    ], [2]);
    const out = new Float32Array((await this.read(buffer, 0, n * 4)).buffer);
    buffer.destroy();
    for (let i = 0; i < n; i++) {
      if (out[i] !== 2 * i + 0.5) {
        throw new GpuError(
          `WebGPU self-test failed on ${this.adapterDescription}: element ${i} is ${out[i]}, expected ${2 * i + 0.5}`,
        );
      }
    }
  }
}

/** Bytes of a parameter struct: 4 per field, rounded up to 16 as uniform structs are. */
export function paramBytes(layout: ParamLayout): number {
  return Math.max(16, Math.ceil((layout.length * 4) / 16) * 16);
}

function writeParams(
  target: Uint8Array,
  offset: number,
  layout: ParamLayout,
  params: Record<string, number>,
  kernel: string,
): void {
  if (layout.length * 4 > UNIFORM_SLOT_BYTES) throw new Error(`${kernel}: too many parameters`);
  const view = new DataView(target.buffer, target.byteOffset + offset, UNIFORM_SLOT_BYTES);
  layout.forEach(([name, type], i) => {
    const value = params[name];
    if (value === undefined || Number.isNaN(value)) throw new Error(`${kernel}: parameter '${name}' is missing`);
    if (type === "f32") view.setFloat32(4 * i, value, true);
    else if (type === "i32") view.setInt32(4 * i, value, true);
    else view.setUint32(4 * i, value, true);
  });
}
