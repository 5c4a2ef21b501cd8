// The last frames of one stream instance, kept so a client that reconnects can be sent what it
// missed. Bounded by count and by age; a resume that reaches past what is kept is reported as
// expired by the caller (410), never answered with a silent gap.
//
// Frames are kept as UTF-8 bytes in one growable Buffer, outside the JS heap. Thousands of
// retained frame strings outlive several young-generation collections each; that copying made
// GC the largest per-message cost of a resumable stream (3x the server CPU of a non-resumable one).

export interface Retention {
  /** Most frames kept. */
  readonly messages: number;
  /** Frames older than this are dropped; undefined: by count only. */
  readonly seconds?: number | undefined;
}

export interface ReplayBuffer {
  /** The seq of the newest frame appended (0 before the first), retained or not. */
  readonly lastSeq: number;
  /** The seq of the oldest retained frame; undefined when none is retained. */
  readonly oldestSeq: number | undefined;
  readonly size: number;
  /** Appends the frame numbered `lastSeq + 1`. */
  append(frame: string): number;
  /**
   * The retained frames after `seq`, oldest first: empty when `seq` is the last frame; undefined
   * when a frame after `seq` is no longer retained, or `seq` was never issued.
   */
  after(seq: number): string[] | undefined;
}

/** Smallest byte store; at least Buffer's pool threshold, so it never pins a shared pool slab. */
const MIN_BYTES = 4096;

export function createReplayBuffer(retention: Retention, now: () => number = Date.now): ReplayBuffer {
  const max = retention.messages;
  const maxAgeMs = retention.seconds === undefined ? Infinity : retention.seconds * 1000;
  let lastSeq = 0;
  // Offsets are virtual (bytes ever stored): `bytes[i]` is offset `base + i`, so moving the live
  // bytes only changes `base`. Retained frame k starts at starts[head + k] and came in at times[head + k].
  let bytes = Buffer.alloc(0);
  let base = 0;
  let end = 0;
  let starts: number[] = [];
  let times: number[] = [];
  let head = 0;

  const size = () => starts.length - head;
  const dropOldest = () => {
    head++;
    // The dead prefix goes once it is half the arrays: appends stay O(1) amortised.
    if (head > 64 && head * 2 > starts.length) {
      starts = starts.slice(head);
      times = times.slice(head);
      head = 0;
    }
  };
  const evictOld = (t: number) => {
    const cutoff = t - maxAgeMs;
    while (size() > 0 && times[head]! < cutoff) dropOldest();
  };
  /** Room for `need` more bytes after `end`: slide the live bytes to the front, or grow. */
  const reserve = (need: number) => {
    if (end - base + need <= bytes.length) return;
    const liveStart = size() > 0 ? starts[head]! : end;
    const live = end - liveStart;
    if (live + need <= bytes.length >> 1) bytes.copyWithin(0, liveStart - base, end - base);
    else {
      const next = Buffer.allocUnsafe(Math.max(MIN_BYTES, 2 * (live + need)));
      bytes.copy(next, 0, liveStart - base, end - base);
      bytes = next;
    }
    base = liveStart;
  };

  return {
    get lastSeq() {
      return lastSeq;
    },
    get oldestSeq() {
      evictOld(now());
      return size() > 0 ? lastSeq - size() + 1 : undefined;
    },
    get size() {
      evictOld(now());
      return size();
    },
    append(frame) {
      const seq = ++lastSeq;
      if (max <= 0) return seq;
      const t = now();
      // Three bytes per UTF-16 unit is the UTF-8 worst case, so write() never truncates.
      reserve(frame.length * 3);
      starts.push(end);
      times.push(t);
      end += bytes.write(frame, end - base);
      while (size() > max) dropOldest();
      evictOld(t);
      return seq;
    },
    after(seq) {
      evictOld(now());
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > lastSeq) return undefined;
      const missing = lastSeq - seq;
      if (missing > size()) return undefined;
      const out: string[] = [];
      for (let i = starts.length - missing; i < starts.length; i++) out.push(bytes.toString('utf8', starts[i]! - base, (starts[i + 1] ?? end) - base));
      return out;
    },
  };
}
