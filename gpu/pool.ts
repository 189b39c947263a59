/**
 * A pool of storage buffers keyed by size class, so the activations of one
 * network call reuse the memory of the last. A released buffer may be handed out
 * again while work that used it is still recorded but not submitted: WebGPU runs
 * dispatches of one queue in order, so the later dispatch sees the earlier's
 * writes finished. Host writes into a buffer go through `Gpu.write`, which
 * submits recorded work first for the same reason.
 */

const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Rounds a byte count up to its size class: steps of a quarter of the enclosing power of two (≤ 25 % waste). */
export function sizeClass(bytes: number): number {
  const minimum = 256;
  if (bytes <= minimum) return minimum;
  const power = 2 ** Math.floor(Math.log2(bytes));
  const step = power / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Bytes handed out and not yet released. */
  liveBytes = 0;
  /** Largest liveBytes seen since the last resetPeak(). */
  peakBytes = 0;
  /** Bytes held by the pool, handed out or not. */
  allocatedBytes = 0;

  constructor(private device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const buffer = this.free.get(size)?.pop() ?? this.allocate(size);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.liveBytes -= size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, list = []);
    list.push(buffer);
  }

  /** Destroys every free buffer (the memory goes back to the driver). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.allocatedBytes -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  private allocate(size: number): GPUBuffer {
    this.allocatedBytes += size;
    return this.device.createBuffer({ size, usage: USAGE });
  }
}
