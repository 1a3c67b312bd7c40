// The allocator for wasm linear memory, owned by TypeScript (the kernels never allocate).
// A caching allocator in the style of PyTorch's: blocks are rounded to a size class, freed blocks
// go to a free list for that class and are handed out again for the same class, so a training
// loop that repeats the same shapes reaches a steady state and stops growing memory.
// Not for: tensor lifetimes (src/tensor/scope.ts decides when to free).

/** Alignment of every block: one cache line, and enough for v128 loads. */
export const ALIGN = 64;
const PAGE = 65536;

/** Live and cached bytes of one heap. */
export interface MemoryStats {
  /** Bytes in blocks currently handed out. */
  liveBytes: number;
  /** Number of blocks currently handed out. */
  liveBlocks: number;
  /** Largest liveBytes seen. */
  peakLiveBytes: number;
  /** Bytes in freed blocks kept for reuse. */
  cachedBytes: number;
  /** Size of the wasm memory. */
  wasmBytes: number;
}

/** Size class of a request: multiples of 64 B up to 64 KiB, then of 4 KiB, then of 64 KiB. */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 1);
  if (b <= 65536) return Math.ceil(b / ALIGN) * ALIGN;
  if (b <= 4 << 20) return Math.ceil(b / 4096) * 4096;
  return Math.ceil(b / PAGE) * PAGE;
}

export class Heap {
  private top: number;
  private readonly free = new Map<number, number[]>();
  private readonly sizes = new Map<number, number>();
  private live = 0;
  private peak = 0;
  private cached = 0;

  /** base: first byte the heap may use (below it: the kernels' static data). */
  constructor(
    private readonly memory: WebAssembly.Memory,
    base: number,
  ) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
  }

  /** Allocates `bytes` (64-byte aligned); grows the wasm memory when needed. */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`Heap.alloc: invalid size ${bytes}`);
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let ptr = list?.pop();
    if (ptr !== undefined) {
      this.cached -= size;
    } else {
      ptr = this.top;
      const end = ptr + size;
      const have = this.memory.buffer.byteLength;
      if (end > have) {
        const pages = Math.ceil((end - have) / PAGE);
        try {
          this.memory.grow(pages);
        } catch {
          this.releaseCached();
          throw new RangeError(
            `out of wasm memory: cannot grow by ${pages} pages to hold ${bytes} bytes (live ${this.live} bytes, memory ${have} bytes)`,
          );
        }
      }
      this.top = end;
    }
    this.sizes.set(ptr, size);
    this.live += size;
    if (this.live > this.peak) this.peak = this.live;
    return ptr;
  }

  /** Returns a block to its size class's free list. */
  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new Error(`Heap.release: ${ptr} is not a live block (double free?)`);
    this.sizes.delete(ptr);
    this.live -= size;
    this.cached += size;
    let list = this.free.get(size);
    if (!list) {
      list = [];
      this.free.set(size, list);
    }
    list.push(ptr);
  }

  /** Forgets cached blocks at the top of the heap so the bump pointer can reuse them. */
  releaseCached(): void {
    // Only the topmost blocks can be returned to the bump region; others stay cached.
    let changed = true;
    while (changed) {
      changed = false;
      for (const [size, list] of this.free) {
        const i = list.indexOf(this.top - size);
        if (i >= 0) {
          list.splice(i, 1);
          this.top -= size;
          this.cached -= size;
          changed = true;
        }
      }
    }
  }

  stats(): MemoryStats {
    return {
      liveBytes: this.live,
      liveBlocks: this.sizes.size,
      peakLiveBytes: this.peak,
      cachedBytes: this.cached,
      wasmBytes: this.memory.buffer.byteLength,
    };
  }
}
