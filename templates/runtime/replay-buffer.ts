// The last frames of one stream instance, kept so a client that reconnects can be sent what it
// missed. Bounded by count and by age; a resume that reaches past what is kept is reported as
// expired by the caller (410), never answered with a silent gap.
//
// Frames are kept as UTF-8 bytes in Buffers, outside the JS heap. Thousands of retained frame
// strings outlive several young-generation collections each; that copying made GC the largest
// per-message cost of a resumable stream (3x the server CPU of a non-resumable one).
// The bytes sit in segments that are filled in order and dropped (or reused) once eviction has
// passed them, never moved: one growable Buffer, slid to the front when full and copied when grown,
// copied as many bytes as it stored, and that (with the fresh memory of each growth) cost a
// resumable SSE stream about a tenth of its throughput.
//
// Appends are cheap because they are batched: a frame waits (as the string the caller holds
// anyway) until the transport has written it: `written(chunk)` hands over the batch the pump
// joined for its own write, which is encoded as it is (no second join). Without that call the
// frames are joined and encoded once BATCH_FRAMES are pending. Encoding each frame alone
// flattened every frame string (an allocation and a copy) and paid a native call per frame.
// A frame is located by its UTF-16 offset, which costs nothing to know (`length`); `after()`
// decodes whole batches and cuts them there, since decoding what was encoded gives back as many
// UTF-16 units (a lone surrogate becomes one U+FFFD).

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
   * Calling it is optional and saves work: `chunk`, just written by the transport, is appended
   * frames joined in order (a pump batch). Those frames are stored from it rather than joined
   * again. A chunk that is not the oldest frames not yet stored only makes those be stored now.
   */
  written(chunk: string): void;
  /**
   * The retained frames after `seq`, oldest first: empty when `seq` is the last frame; undefined
   * when a frame after `seq` is no longer retained, or `seq` was never issued.
   */
  after(seq: number): string[] | undefined;
}

/** Smallest segment; at least Buffer's pool threshold, so it never pins a shared pool slab. */
const MIN_BYTES = 4096;
/** Segments grow with what is retained up to this size, so a full one is never copied and little is wasted. */
const MAX_SEGMENT = 262_144;
/**
 * Freed segments kept for reuse. Eviction frees segments about as fast as writes fill them, but
 * not in step. A single spare, replaced by every segment freed, left 20-40 % of fills in steady
 * state to fresh memory, and fresh memory is dear: its first touch faults each page in, 15 µs a
 * 4 KiB page on the bench machine, which made storing a frame cost more than encoding it (0.25 µs).
 */
const SPARES = 2;
/** Frames joined and encoded together; above a pump batch (`buffer`), so `written()` usually comes first. */
const BATCH_FRAMES = 256;
/** A batch is encoded early once its text is this long, so few large frames are not held as strings. */
const BATCH_UNITS = 65_536;
/** First capacity of the per-frame rings; they double up to the retention's count. */
const MIN_RING = 64;

export function createReplayBuffer(retention: Retention, now: () => number = Date.now): ReplayBuffer {
  const max = Math.max(0, Math.floor(retention.messages));
  const maxAgeMs = retention.seconds === undefined ? Infinity : retention.seconds * 1000;
  const byAge = maxAgeMs !== Infinity;
  let lastSeq = 0;
  // Retained frames are the seqs oldest..lastSeq (none when oldest > lastSeq).
  let oldest = 1;

  // Per frame, in rings indexed by `seq & mask`: when it came in, and where its text starts in
  // the virtual UTF-16 stream of everything ever appended (its end is the next frame's start).
  let mask = MIN_RING - 1;
  let times = new Float64Array(byAge ? MIN_RING : 0);
  let units = new Float64Array(MIN_RING);
  let unitEnd = 0;

  // Frames appended but not yet encoded: seqs lastSeq - pending.length + 1 .. lastSeq.
  let pending: string[] = [];
  let pendingUnits = 0;

  // Encoded batches, oldest first from batchHead: the first seq of each, where it starts in the
  // virtual UTF-16 stream, and its bytes: segment, start and end there.
  let batchSeq: number[] = [];
  let batchUnit: number[] = [];
  let batchSeg: Buffer[] = [];
  let batchStart: number[] = [];
  let batchEnd: number[] = [];
  let batchHead = 0;

  // The segment being filled and how much of it is used; segments eviction freed, kept for reuse
  // (the largest SPARES of them).
  const none: Buffer = Buffer.alloc(0);
  let seg = none;
  let used = 0;
  const spares: Buffer[] = [];
  let stored = 0; // bytes of the retained batches

  const size = () => lastSeq - oldest + 1;
  const grow = () => {
    const cap = (mask + 1) * 2;
    const nextMask = cap - 1;
    const nextTimes = new Float64Array(byAge ? cap : 0);
    const nextUnits = new Float64Array(cap);
    for (let s = oldest; s <= lastSeq; s++) {
      if (byAge) nextTimes[s & nextMask] = times[s & mask]!;
      nextUnits[s & nextMask] = units[s & mask]!;
    }
    mask = nextMask;
    times = nextTimes;
    units = nextUnits;
  };
  /** Forgets batch `b` (the oldest retained); its segment is free once no later batch is in it. */
  const drop = (b: number) => {
    const s = batchSeg[b]!;
    stored -= batchEnd[b]! - batchStart[b]!;
    batchSeg[b] = none;
    if (s !== seg && s !== batchSeg[b + 1]) {
      // The largest are kept (a small segment of the buffer's first fills may never fit again),
      // never more bytes than are retained: a buffer that ages out holds no memory.
      spares.push(s);
      spares.sort((x, y) => y.length - x.length);
    }
    while (spares.length > SPARES || (spares.length > 0 && spareBytes() > stored)) spares.pop();
  };
  const spareBytes = () => spares.reduce((sum, x) => sum + x.length, 0);
  /** Drops batches wholly older than the oldest retained frame. */
  const dropBatches = () => {
    // The last encoded frame; everything after it is pending.
    if (oldest > lastSeq - pending.length) {
      while (batchHead < batchSeq.length) drop(batchHead++);
      used = 0; // nothing retained is in the segment being filled either
    } else while (batchHead + 1 < batchSeq.length && batchSeq[batchHead + 1]! <= oldest) drop(batchHead++);
    // The dead prefix goes once it is half the arrays: O(1) amortised.
    if (batchHead > 64 && batchHead * 2 > batchSeq.length) {
      batchSeq = batchSeq.slice(batchHead);
      batchUnit = batchUnit.slice(batchHead);
      batchSeg = batchSeg.slice(batchHead);
      batchStart = batchStart.slice(batchHead);
      batchEnd = batchEnd.slice(batchHead);
      batchHead = 0;
    }
  };
  // The newest `unstamped` frames have no time yet: the clock is read once an event-loop turn,
  // when the turn that appended them is over, not for every frame (Date.now() cost 60 ns here,
  // half of an append). Until then they count as appended now: a frame is kept at least
  // `seconds`, and at most one turn longer.
  let unstamped = 0;
  let stamping = false;
  const stamp = () => {
    stamping = false;
    const t = now();
    for (let s = Math.max(oldest, lastSeq - unstamped + 1); s <= lastSeq; s++) times[s & mask] = t;
    unstamped = 0;
    evictOld(t);
  };
  const evictOld = (t: number) => {
    if (!byAge) return;
    const cutoff = t - maxAgeMs;
    const from = oldest;
    while (oldest <= lastSeq - unstamped && times[oldest & mask]! < cutoff) oldest++;
    if (oldest !== from) dropBatches();
  };
  /** Stores `text`, the oldest `count` pending frames joined, as one batch. */
  const encode = (text: string, count: number) => {
    dropBatches();
    // Into what is left of the segment, if it fits: write() stops at a whole character, so a
    // write that ends short of the segment's end (or is the text's whole length) took all of it.
    // UTF-8 never has fewer bytes than UTF-16 units, so a shorter room is not tried.
    const room = seg.length - used;
    let n = room >= text.length ? seg.write(text, used) : -1;
    if (n < 0 || (n > room - 4 && n !== Buffer.byteLength(text))) {
      // A fresh segment: three bytes a UTF-16 unit is the UTF-8 worst case, so write() never
      // truncates; about as large as what is retained (up to MAX_SEGMENT), so there are few.
      const need = text.length * 3;
      const i = spares.findIndex((b) => b.length >= need);
      seg = i < 0 ? Buffer.allocUnsafe(Math.max(MIN_BYTES, need, Math.min(MAX_SEGMENT, stored))) : spares.splice(i, 1)[0]!;
      used = 0;
      n = seg.write(text, 0);
    }
    batchSeq.push(lastSeq - pending.length + 1);
    batchUnit.push(unitEnd - pendingUnits);
    batchSeg.push(seg);
    batchStart.push(used);
    batchEnd.push((used += n));
    stored += n;
    pending = count === pending.length ? [] : pending.slice(count);
    pendingUnits -= text.length;
  };
  const flush = () => {
    if (pending.length > 0) encode(pending.join(''), pending.length);
  };

  return {
    get lastSeq() {
      return lastSeq;
    },
    get oldestSeq() {
      evictOld(now());
      return size() > 0 ? oldest : undefined;
    },
    get size() {
      evictOld(now());
      return size();
    },
    append(frame) {
      const seq = ++lastSeq;
      if (max === 0) {
        oldest = seq + 1;
        return seq;
      }
      if (size() > mask + 1) {
        if (mask + 1 < max) grow();
        else oldest++;
      }
      const i = seq & mask;
      units[i] = unitEnd;
      unitEnd += frame.length;
      pending.push(frame);
      pendingUnits += frame.length;
      if (byAge && !unstamped++ && !stamping) {
        stamping = true;
        setImmediate(stamp);
      }
      if (size() > max) oldest = seq - max + 1;
      if (pending.length >= BATCH_FRAMES || pendingUnits >= BATCH_UNITS) flush();
      return seq;
    },
    written(chunk) {
      // The frames it holds: as many of the oldest pending as make up its length, checked at
      // both ends (ids differ from frame to frame), so equal lengths alone never misplace text.
      let n = 0;
      let count = 0;
      while (count < pending.length && n < chunk.length) n += pending[count++]!.length;
      if (count > 0 && n === chunk.length && chunk.startsWith(pending[0]!) && chunk.endsWith(pending[count - 1]!)) encode(chunk, count);
      // Out of step (frames written elsewhere, or a batch cut by the thresholds): store what is
      // pending by itself, so the next chunk starts at the oldest pending frame again.
      else flush();
    },
    after(seq) {
      evictOld(now());
      if (!Number.isSafeInteger(seq) || seq < 0 || seq > lastSeq) return undefined;
      if (seq === lastSeq) return [];
      if (seq + 1 < oldest) return undefined;
      flush();
      // The batch holding seq + 1: the last one starting at or before it.
      let b = batchSeq.length - 1;
      while (b > batchHead && batchSeq[b]! > seq + 1) b--;
      // The batches from b on, decoded a segment at a time (a segment's batches lie end to end).
      const parts: string[] = [];
      for (let k = b; k < batchSeq.length; ) {
        const s = batchSeg[k]!;
        const from = batchStart[k]!;
        let to = batchEnd[k]!;
        while (++k < batchSeq.length && batchSeg[k] === s) to = batchEnd[k]!;
        parts.push(s.toString('utf8', from, to));
      }
      const text = parts.join('');
      const origin = batchUnit[b]!;
      const out: string[] = [];
      for (let s = seq + 1; s <= lastSeq; s++) {
        const to = s === lastSeq ? unitEnd : units[(s + 1) & mask]!;
        out.push(text.slice(units[s & mask]! - origin, to - origin));
      }
      return out;
    },
  };
}
