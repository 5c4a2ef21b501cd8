// A fixed-capacity FIFO for the lossy backpressure strategies: memory stays bounded by
// `capacity` however fast the producer runs, and every discarded message is counted so the
// client can be told about the loss in the next frame.

export type Overflow = 'drop-oldest' | 'drop-newest';

export interface BoundedQueue<T> {
  readonly size: number;
  readonly capacity: number;
  /** Adds `value`; when full, discards the oldest queued value or `value` itself. False if something was discarded. */
  push(value: T): boolean;
  shift(): T | undefined;
  /** Messages discarded since the last call, and resets the count. */
  takeDropped(): number;
  clear(): void;
}

export function createBoundedQueue<T>(capacity: number, overflow: Overflow): BoundedQueue<T> {
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
  // A ring buffer: O(1) at both ends, no array shifting under a fast producer.
  const slots: (T | undefined)[] = new Array(capacity);
  let head = 0;
  let size = 0;
  let dropped = 0;

  return {
    get size() {
      return size;
    },
    capacity,
    push(value) {
      if (size === capacity) {
        dropped++;
        if (overflow === 'drop-newest') return false;
        // Full, so the oldest slot is where the newest goes: overwrite it and advance.
        slots[head] = value;
        head = (head + 1) % capacity;
        return false;
      }
      slots[(head + size) % capacity] = value;
      size++;
      return true;
    },
    shift() {
      if (size === 0) return undefined;
      const value = slots[head];
      slots[head] = undefined;
      head = (head + 1) % capacity;
      size--;
      return value;
    },
    takeDropped() {
      const n = dropped;
      dropped = 0;
      return n;
    },
    clear() {
      slots.fill(undefined);
      head = 0;
      size = 0;
    },
  };
}
