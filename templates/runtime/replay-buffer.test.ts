import { describe, expect, it, vi } from 'vitest';
import { createReplayBuffer } from './replay-buffer.ts';

/** The end of an event-loop turn: frames appended in it get their time (the clock is read then). */
const turn = () => new Promise<void>((r) => setImmediate(r));

const filled = (n: number, retention: { messages: number; seconds?: number }, clock = { t: 0 }) => {
  const b = createReplayBuffer(retention, () => clock.t);
  for (let i = 1; i <= n; i++) b.append(`f${i}`);
  return b;
};

describe('createReplayBuffer', () => {
  it('numbers frames from 1, one above the last', () => {
    const b = createReplayBuffer({ messages: 10 });
    expect(b.lastSeq).toBe(0);
    expect(b.append('a')).toBe(1);
    expect(b.append('b')).toBe(2);
    expect(b.lastSeq).toBe(2);
  });

  it.each([
    ['everything after 0', { given: 0, want: ['f1', 'f2', 'f3', 'f4', 'f5'] }],
    ['the frames after 3', { given: 3, want: ['f4', 'f5'] }],
    ['nothing after the last', { given: 5, want: [] }],
    ['a position never issued', { given: 6, want: undefined }],
    ['a negative position', { given: -1, want: undefined }],
    ['a fractional position', { given: 1.5, want: undefined }],
  ])('after: %s', (_, { given, want }) => {
    expect(filled(5, { messages: 10 }).after(given)).toEqual(want);
  });

  it.each([
    ['older than the oldest retained minus one is expired', { given: 6, want: undefined }],
    ['the oldest retained minus one replays all retained', { given: 7, want: ['f8', 'f9', 'f10'] }],
    ['inside the window', { given: 9, want: ['f10'] }],
  ])('eviction by count: %s', (_, { given, want }) => {
    const b = filled(10, { messages: 3 });
    expect(b.oldestSeq).toBe(8);
    expect(b.size).toBe(3);
    expect(b.after(given)).toEqual(want);
  });

  it('evicts by age', async () => {
    const clock = { t: 0 };
    const b = createReplayBuffer({ messages: 100, seconds: 10 }, () => clock.t);
    b.append('a'); // t=0
    await turn();
    clock.t = 6000;
    b.append('b'); // t=6s
    await turn();
    clock.t = 10_001;
    expect(b.oldestSeq).toBe(2);
    expect(b.after(0)).toBeUndefined();
    expect(b.after(1)).toEqual(['b']);
    clock.t = 16_001;
    expect(b.size).toBe(0);
    expect(b.oldestSeq).toBeUndefined();
    expect(b.after(1)).toBeUndefined();
    // Nothing is missing from the last position, even with no frame retained.
    expect(b.after(2)).toEqual([]);
  });

  it('keeps nothing with messages 0 but still numbers', () => {
    const b = filled(3, { messages: 0 });
    expect(b.lastSeq).toBe(3);
    expect(b.after(2)).toBeUndefined();
    expect(b.after(3)).toEqual([]);
  });

  it('stays correct across compaction of a long run', () => {
    const b = filled(10_000, { messages: 50 });
    expect(b.size).toBe(50);
    expect(b.oldestSeq).toBe(9951);
    expect(b.after(9998)).toEqual(['f9999', 'f10000']);
    expect(b.after(9950)).toHaveLength(50);
    expect(b.after(9949)).toBeUndefined();
  });

  it('returns frames byte-exact across growth and sliding of its store', () => {
    // Frames of varied length with multi-byte text: a wrong offset or a truncated write shows up.
    const text = (i: number) => `id: S.${i}\ndata: ${'é€😀x'.repeat(i % 97)}\n\n`;
    const b = createReplayBuffer({ messages: 100 });
    for (let i = 1; i <= 5000; i++) b.append(text(i));
    const want = Array.from({ length: 100 }, (_, k) => text(4901 + k));
    expect(b.after(4900)).toEqual(want);
    expect(b.after(4899)).toBeUndefined();
    expect(b.oldestSeq).toBe(4901);
  });

  it('keeps a frame whose UTF-8 form is three times its length', () => {
    const b = createReplayBuffer({ messages: 10 });
    const big = `data: ${'€'.repeat(20_000)}\n\n`;
    b.append('a');
    b.append(big);
    expect(b.after(0)).toEqual(['a', big]);
  });

  it('ages a frame from the end of the turn that appended it, never from before', async () => {
    const clock = { t: 0 };
    const b = createReplayBuffer({ messages: 3, seconds: 10 }, () => clock.t);
    for (let i = 1; i <= 10; i++) b.append(`f${i}`); // more than the count keeps, in one turn
    clock.t = 50_000; // the turn is not over: the frames count as appended now
    expect(b.after(7)).toEqual(['f8', 'f9', 'f10']);
    await turn(); // their time is 50 s
    clock.t = 59_999;
    expect(b.after(7)).toEqual(['f8', 'f9', 'f10']);
    clock.t = 60_001;
    expect(b.size).toBe(0);
    expect(b.after(10)).toEqual([]);
  });

  it('keeps frames in order after eviction by age empties it', async () => {
    const clock = { t: 0 };
    const b = createReplayBuffer({ messages: 10, seconds: 1 }, () => clock.t);
    b.append('a');
    b.append('b');
    await turn();
    clock.t = 5000;
    expect(b.size).toBe(0);
    b.append('c');
    b.append('d');
    expect(b.after(2)).toEqual(['c', 'd']);
    expect(b.after(3)).toEqual(['d']);
  });
});

describe('createReplayBuffer against a plain model', () => {
  // Every observable answer compared with an obviously right model (all frames as strings), over
  // random runs that cross batch boundaries, eviction inside a pending batch, large frames that
  // encode early, and age eviction between appends.
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pieces = ['a', 'é', '€', '😀', '\n', 'x'.repeat(40)];

  it.each([
    ['count only, small', { seed: 1, retention: { messages: 5 } }],
    ['count only, a batch and a bit', { seed: 2, retention: { messages: 70 } }],
    ['count and age', { seed: 3, retention: { messages: 200, seconds: 2 } }],
    ['age dominating', { seed: 4, retention: { messages: 10_000, seconds: 1 } }],
    ['one frame', { seed: 5, retention: { messages: 1, seconds: 5 } }],
  ])('%s', async (_, { seed, retention }: { seed: number; retention: { messages: number; seconds?: number } }) => {
    const random = rng(seed);
    const clock = { t: 0 };
    const b = createReplayBuffer(retention, () => clock.t);
    const model: { text: string; t: number }[] = [];
    let unwritten: string[] = [];
    const maxAgeMs = retention.seconds === undefined ? Infinity : retention.seconds * 1000;
    const retained = () => {
      const kept = model.map((f, k) => ({ ...f, seq: k + 1 })).filter((f) => f.t >= clock.t - maxAgeMs);
      return kept.slice(Math.max(0, kept.length - retention.messages));
    };
    for (let step = 0; step < 1500; step++) {
      const r = random();
      if (r < 0.8) {
        const big = random() < 0.01;
        let text = `id: ${model.length + 1}\n`;
        const n = big ? 6000 : Math.floor(random() * 30);
        for (let k = 0; k < n; k++) text += pieces[Math.floor(random() * pieces.length)];
        model.push({ text, t: clock.t });
        expect(b.append(text)).toBe(model.length);
        // As a transport does: batches written joined, now and then one never written (a drop).
        unwritten.push(text);
        const w = random();
        if (w < 0.1) b.written(unwritten.join(''));
        if (w < 0.12) unwritten = [];
      } else if (r < 0.85) {
        await turn(); // frames get their time at the end of the turn that appended them
        clock.t += Math.floor(random() * 400);
      } else {
        const kept = retained();
        const oldest = kept[0]?.seq;
        expect(b.oldestSeq).toBe(oldest);
        expect(b.size).toBe(kept.length);
        const seq = Math.floor(random() * (model.length + 2)) - 1;
        const want =
          seq < 0 || seq > model.length ? undefined
          : seq === model.length ? []
          : oldest !== undefined && seq + 1 >= oldest ? kept.filter((f) => f.seq > seq).map((f) => f.text)
          : undefined;
        expect(b.after(seq)).toEqual(want);
      }
    }
  });
});

describe('createReplayBuffer.written', () => {
  const frames = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => `id: ${from + k}\ndata: é${'x'.repeat(k % 3)}\n\n`);

  it.each([
    ['a whole batch', { given: [[1, 4]], want: frames(1, 6) }],
    ['batches in turn', { given: [[1, 2], [3, 6]], want: frames(1, 6) }],
    // Frames 1-2 were never written (a dropped connection); 3-4 have the length of 1-2 but are not them.
    ['a chunk that is not the oldest pending frames', { given: [[3, 4]], want: frames(1, 6) }],
    ['a chunk of other text', { given: [[0, 0]], want: frames(1, 6) }],
  ])('stores frames exactly: %s', (_, { given, want }) => {
    const b = createReplayBuffer({ messages: 100 });
    const all = frames(1, 6);
    for (const f of all) b.append(f);
    for (const [from = 0, to] of given) b.written(from === 0 ? 'heartbeat' : all.slice(from - 1, to).join(''));
    expect(b.after(0)).toEqual(want);
    expect(b.after(4)).toEqual(want.slice(4));
  });

  it('keeps equal-length frames apart when a chunk is out of step', () => {
    // Same lengths everywhere: only the content check can tell frames 1-2 from 3-4.
    const b = createReplayBuffer({ messages: 100 });
    const all = ['id: 1\n', 'id: 2\n', 'id: 3\n', 'id: 4\n'];
    for (const f of all) b.append(f);
    b.written('id: 3\nid: 4\n');
    expect(b.after(0)).toEqual(all);
  });

  it('stays exact over a long run of written batches with eviction by count', () => {
    const b = createReplayBuffer({ messages: 50 });
    const text = (i: number) => `id: ${i}\ndata: ${'€'.repeat(i % 7)}\n\n`;
    for (let i = 1; i <= 2000; ) {
      const batch: string[] = [];
      for (let k = 0; k < 1 + (i % 70) && i <= 2000; k++, i++) batch.push(text(i)), b.append(text(i));
      b.written(batch.join(''));
    }
    expect(b.after(1950)).toEqual(Array.from({ length: 50 }, (_, k) => text(1951 + k)));
    expect(b.after(1949)).toBeUndefined();
  });

  it('stays exact while its bytes pass through many segments', () => {
    // Three UTF-8 bytes a UTF-16 unit, in batches of 1 to 40 frames: a batch often fits what is
    // left of a segment by length but not by bytes (the write is redone in a fresh segment), and
    // a resume decodes the retained batches from several segments, some of them reused.
    const b = createReplayBuffer({ messages: 200 });
    const text = (i: number) => `id: ${i}\ndata: ${'€'.repeat(50 + ((i * 37) % 400))}\n\n`;
    for (let i = 1, round = 0; i <= 4000; round++) {
      const batch: string[] = [];
      for (let k = 0; k < 1 + (round % 40) && i <= 4000; k++, i++) batch.push(text(i)), b.append(text(i));
      b.written(batch.join(''));
      if (round % 10 === 0) {
        const from = Math.max(0, b.lastSeq - 200);
        expect(b.after(from)).toEqual(Array.from({ length: b.lastSeq - from }, (_, k) => text(from + 1 + k)));
      }
    }
    expect(b.after(3800)).toEqual(Array.from({ length: 200 }, (_, k) => text(3801 + k)));
    expect(b.after(3799)).toBeUndefined();
  });
  it('stores into reused memory once its retention is full', () => {
    // Eviction frees segments about as fast as writes fill them, but not in step. Fresh memory
    // faults its pages in at first touch (15 µs a 4 KiB page on the bench machine), so a buffer
    // past its warm-up must not allocate: 100 B frames in batches of 16 to 100, as a pump writes them.
    const b = createReplayBuffer({ messages: 10_000 });
    const text = (i: number) => `id: AbCdEfGhIjKlMnOpQrSt_-.${i}\nevent: token\ndata: {"text":"${'x'.repeat(40)}","index":${i}}\n\n`;
    const alloc = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      let warm = -1;
      for (let i = 1, round = 0; i <= 250_000; round++) {
        const batch: string[] = [];
        for (let k = 0; k < 16 + ((round * 29) % 85); k++, i++) batch.push(text(i)), b.append(text(i));
        b.written(batch.join(''));
        if (warm < 0 && i > 30_000) warm = alloc.mock.calls.length;
      }
      expect(alloc.mock.calls.length - warm).toBe(0);
    } finally {
      alloc.mockRestore();
    }
    expect(b.after(b.lastSeq - 3)).toEqual([1, 2, 3].map((k) => text(b.lastSeq - 3 + k)));
  });
});
