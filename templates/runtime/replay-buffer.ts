// The last frames of one stream instance, kept so a client that reconnects can be sent what it
// missed. Bounded by count and by age; a resume that reaches past what is kept is reported as
// expired by the caller (410), never answered with a silent gap.

export interface Retention {
  /** Most frames kept. */
  readonly messages: number;
  /** Frames older than this are dropped; undefined: by count only. */
  readonly seconds?: number | undefined;
}

export interface ReplayBuffer<T> {
  /** The seq of the newest frame appended (0 before the first), retained or not. */
  readonly lastSeq: number;
  /** The seq of the oldest retained frame; undefined when none is retained. */
  readonly oldestSeq: number | undefined;
  readonly size: number;
  /** Appends the frame numbered `lastSeq + 1`. */
  append(value: T): number;
  /**
   * The retained frames after `seq`, oldest first: empty when `seq` is the last frame; undefined
   * when a frame after `seq` is no longer retained, or `seq` was never issued.
   */
  after(seq: number): T[] | undefined;
}

export function createReplayBuffer<T>(retention: Retention, now: () => number = Date.now): ReplayBuffer<T> {
  const max = retention.messages;
  const maxAgeMs = retention.seconds === undefined ? Infinity : retention.seconds * 1000;
  // values[head..] are retained; the prefix is garbage compacted away once it is half the array,
  // so appends stay O(1) amortised without preallocating `messages` slots per instance.
  let values: T[] = [];
  let times: number[] = [];
  let head = 0;
  let lastSeq = 0;

  const size = () => values.length - head;
  const dropHead = () => {
    values[head] = undefined as T;
    head++;
    if (head > 64 && head * 2 > values.length) {
      values = values.slice(head);
      times = times.slice(head);
      head = 0;
    }
  };
  const evictOld = () => {
    const cutoff = now() - maxAgeMs;
    while (size() > 0 && times[head]! < cutoff) dropHead();
  };

  return {
    get lastSeq() {
      return lastSeq;
    },
    get oldestSeq() {
      evictOld();
      return size() > 0 ? lastSeq - size() + 1 : undefined;
    },
    get size() {
      evictOld();
      return size();
    },
    append(value) {
      if (max > 0) {
        values.push(value);
        times.push(now());
        while (size() > max) dropHead();
      }
      evictOld();
      return ++lastSeq;
    },
    after(seq) {
      evictOld();
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > lastSeq) return undefined;
      const missing = lastSeq - seq;
      if (missing > size()) return undefined;
      return values.slice(values.length - missing);
    },
  };
}
