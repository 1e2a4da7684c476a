// A bounded reorder buffer: entries go in roughly ordered, come out in timestamp order as long as no entry is
// more than `capacity` entries late. Memory stays bounded by `capacity` whatever the input size; an entry that
// arrives later than that is still processed (the baseline is time-indexed) and counted as out of order.

export interface Timed {
  /** Sort key: epoch ms with sub-millisecond fraction. */
  readonly sortKey: number;
  /** Arrival order, to keep equal timestamps stable. */
  readonly seq: number;
}

export class ReorderBuffer<T extends Timed> {
  private readonly heap: T[] = [];
  private lastEmitted = -Infinity;
  lateCount = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.heap.length;
  }

  /** Adds an item; returns the oldest item when the buffer is over capacity. */
  push(item: T): T | undefined {
    this.siftUp(this.heap.push(item) - 1);
    return this.heap.length > this.capacity ? this.pop() : undefined;
  }

  /** Removes and returns the oldest item. */
  pop(): T | undefined {
    const heap = this.heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    if (top.sortKey < this.lastEmitted) this.lateCount++;
    else this.lastEmitted = top.sortKey;
    return top;
  }

  private less(a: T, b: T): boolean {
    return a.sortKey < b.sortKey || (a.sortKey === b.sortKey && a.seq < b.seq);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.less(item, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = item;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.less(heap[right]!, heap[left]!) ? right : left;
      if (!this.less(heap[child]!, item)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = item;
  }
}
