import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Message } from './frames.ts';
import { pump, quietTimer, type Backpressure, type PumpSink } from './stream-pump.ts';

/** A sink whose acceptance the test controls: `full` makes write() report a full buffer until `drain()`. */
function fakeSink(full = false) {
  const writes: string[] = [];
  let release: (() => void) | undefined;
  const sink: PumpSink & { writes: string[]; full: boolean; drain(): void } = {
    writes,
    full,
    write(chunk) {
      writes.push(chunk);
      return !sink.full;
    },
    drained: () => new Promise<void>((r) => (release = r)),
    drain() {
      sink.full = false;
      release?.();
    },
  };
  return sink;
}

const encode = (m: Message, dropped: number) => `${m.type}:${String(m.data)}${dropped ? `+${dropped}` : ''};`;

/** An endless producer that never waits, counting what was pulled and whether its finally ran. */
function endless() {
  const state = { pulled: 0, closed: false };
  async function* gen(): AsyncGenerator<Message, Message> {
    try {
      for (;;) yield { type: 'n', data: ++state.pulled };
    } finally {
      state.closed = true;
    }
  }
  return { state, it: gen() };
}

async function* finite(n: number): AsyncGenerator<Message, Message> {
  for (let i = 1; i <= n; i++) yield { type: 'n', data: i };
  return { type: 'done', data: n };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 1000) => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(2);
  return cond();
};

afterEach(() => {
  vi.useRealTimers();
});

describe.each<Backpressure['kind']>(['pull', 'block'])('%s', (kind) => {
  it('pauses the producer at `buffer` frames while the sink is full, and resumes on drain', async () => {
    const { state, it: source } = endless();
    const sink = fakeSink(true);
    const ac = new AbortController();
    const done = pump(source, sink, { backpressure: { kind, buffer: 4 }, signal: ac.signal, encode });
    await sleep(30);
    expect(state.pulled).toBe(4);
    expect(sink.writes).toEqual(['n:1;n:2;n:3;n:4;']);
    sink.full = true;
    sink.drain();
    sink.full = true; // the next write fills it again
    await sleep(30);
    expect(state.pulled).toBe(8);
    expect(sink.writes).toEqual(['n:1;n:2;n:3;n:4;', 'n:5;n:6;n:7;n:8;']);
    ac.abort();
    expect(await done).toEqual({ kind: 'aborted' });
    expect(await until(() => state.closed)).toBe(true);
  });

  it('coalesces frames that are ready together into one write, then reports the terminal', async () => {
    const sink = fakeSink();
    const end = await pump(finite(10), sink, { backpressure: { kind, buffer: 64 }, signal: new AbortController().signal, encode });
    expect(sink.writes).toEqual([Array.from({ length: 10 }, (_, i) => `n:${i + 1};`).join('')]);
    expect(end).toEqual({ kind: 'done', value: { type: 'done', data: 10 }, dropped: 0 });
  });

  it('keeps writing while the sink takes writes, pausing on a macrotask by time, not after every batch', async () => {
    const sink = fakeSink();
    let turns = 0; // turns of the event loop, counted by a setImmediate chain
    const turnAtWrite: number[] = [];
    const write = sink.write;
    sink.write = (chunk) => (turnAtWrite.push(turns), write(chunk));
    let ticking = true;
    const tick = () => ticking && (turns++, setImmediate(tick));
    setImmediate(tick);
    await pump(finite(4000), sink, { backpressure: { kind, buffer: 4 }, signal: new AbortController().signal, encode });
    ticking = false;
    expect(sink.writes).toHaveLength(1000);
    // Pausing after every write of 4 frames would put each write in a turn of its own.
    expect(new Set(turnAtWrite).size).toBeLessThan(500);
  });

  it('does not starve the event loop under a producer that never waits', async () => {
    const { state, it: source } = endless();
    const ac = new AbortController();
    const done = pump(source, fakeSink(), { backpressure: { kind, buffer: 16 }, signal: ac.signal, encode });
    await sleep(20); // only fires if the pump yields to the loop
    ac.abort();
    await done;
    expect(state.pulled).toBeGreaterThan(16);
    expect(await until(() => state.closed)).toBe(true);
  });
});

describe('errors', () => {
  it('a handler throw ends the pump after the frames before it were written', async () => {
    const boom = new Error('boom');
    async function* failing(): AsyncGenerator<Message, Message> {
      yield { type: 'n', data: 1 };
      throw boom;
    }
    const sink = fakeSink();
    const end = await pump(failing(), sink, { backpressure: { kind: 'pull', buffer: 8 }, signal: new AbortController().signal, encode });
    expect(end).toEqual({ kind: 'error', error: boom, dropped: 0 });
    expect(sink.writes.join('')).toBe('n:1;');
  });

  it.each<Backpressure['kind']>(['pull', 'drop-oldest'])('%s: an encode failure ends the pump and closes the iterator', async (kind) => {
    const { state, it: source } = endless();
    const bad = new Error('breaks the contract');
    const end = await pump(source, fakeSink(), {
      backpressure: { kind, buffer: 8 },
      signal: new AbortController().signal,
      encode: (m, d) => {
        if (m.data === 3) throw bad;
        return encode(m, d);
      },
    });
    expect(end).toEqual({ kind: 'error', error: bad, dropped: 0 });
    expect(await until(() => state.closed)).toBe(true);
  });

  it('an already aborted signal ends at once, pulls nothing and closes the iterator', async () => {
    const source = { next: vi.fn(), return: vi.fn(async () => ({ done: true as const, value: undefined })) };
    const ac = new AbortController();
    ac.abort();
    expect(await pump(source, fakeSink(), { backpressure: { kind: 'pull', buffer: 1 }, signal: ac.signal, encode })).toEqual({
      kind: 'aborted',
    });
    expect(await until(() => source.return.mock.calls.length === 1)).toBe(true);
    expect(source.next).not.toHaveBeenCalled();
  });
});

describe('drop-oldest / drop-newest', () => {
  it.each([
    // First flush takes 1-3; while blocked, 4-10 arrive into a queue of 3; the end flushes what is left.
    ['drop-oldest', { want: ['n:1;n:2;n:3;', 'n:8+4;n:9;n:10;'] }],
    ['drop-newest', { want: ['n:1;n:2;n:3;', 'n:4+4;n:5;n:6;'] }],
  ] as const)('%s keeps `buffer` messages and counts the rest', async (kind, { want }) => {
    const sink = fakeSink(true);
    const end = await pump(finite(10), sink, { backpressure: { kind, buffer: 3 }, signal: new AbortController().signal, encode });
    expect(sink.writes).toEqual(want);
    expect(end).toEqual({ kind: 'done', value: { type: 'done', data: 10 }, dropped: 0 });
  });

  it('drops continue to be counted while the sink stays blocked, and are reported with the next frame', async () => {
    const { state, it: source } = endless();
    const sink = fakeSink(true);
    const ac = new AbortController();
    let pulledAtFlush = 0;
    const done = pump(source, sink, {
      backpressure: { kind: 'drop-oldest', buffer: 3 },
      signal: ac.signal,
      encode: (m, d) => {
        pulledAtFlush = state.pulled;
        return encode(m, d);
      },
    });
    await sleep(20); // the producer keeps running (and the loop with it) while nothing is sent
    expect(sink.writes).toEqual(['n:1;n:2;n:3;']);
    sink.drain();
    sink.full = true; // the next write fills it again, so exactly one more write happens
    expect(await until(() => sink.writes.length === 2)).toBe(true);
    const frames = sink.writes[1]!.split(';').filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toBe(`n:${pulledAtFlush - 2}+${pulledAtFlush - 6}`);
    ac.abort();
    await done;
    expect(await until(() => state.closed)).toBe(true);
  });

  it('reports drops after the last sent message with the end', async () => {
    const sink = fakeSink(true);
    const end = await pump(finite(5), sink, {
      backpressure: { kind: 'drop-newest', buffer: 1 },
      signal: new AbortController().signal,
      encode,
    });
    // 1 goes out at once; 2 waits in the queue; 3-5 are discarded; the end flushes 2 with the count.
    expect(sink.writes).toEqual(['n:1;', 'n:2+3;']);
    expect(end).toMatchObject({ kind: 'done', dropped: 0 });
  });
});

/** An iterator the test feeds by hand. */
function channel() {
  const queued: IteratorResult<Message, Message>[] = [];
  let waiting: ((r: IteratorResult<Message, Message>) => void) | undefined;
  const give = (r: IteratorResult<Message, Message>) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(r);
    } else queued.push(r);
  };
  return {
    push: (data: number) => give({ done: false, value: { type: 'n', data } }),
    end: () => give({ done: true, value: { type: 'done', data: null } }),
    it: {
      next: () =>
        queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise<IteratorResult<Message, Message>>((r) => (waiting = r)),
    } as AsyncIterator<Message, Message>,
  };
}

describe('sample', () => {
  it('sends the first value at once, then at most one per interval, the latest, counting replaced ones', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const ch = channel();
    const sent: string[] = [];
    const sink: PumpSink = {
      write: (c) => (sent.push(`${Date.now() - t0}ms ${c}`), true),
      drained: () => Promise.resolve(),
    };
    const done = pump(ch.it, sink, {
      backpressure: { kind: 'sample', buffer: 1, intervalMs: 100 },
      signal: new AbortController().signal,
      encode,
    });
    const at = async (ms: number, f: () => void) => {
      await vi.advanceTimersByTimeAsync(ms - (Date.now() - t0));
      f();
      await vi.advanceTimersByTimeAsync(0);
    };
    await at(0, () => ch.push(1));
    await at(10, () => ch.push(2));
    await at(20, () => ch.push(3));
    await at(150, () => ch.push(4));
    await at(350, () => ch.push(5));
    await at(360, () => ch.push(6));
    await at(370, () => ch.end());
    expect(await done).toMatchObject({ kind: 'done', dropped: 0 });
    expect(sent).toEqual(['0ms n:1;', '100ms n:3+1;', '200ms n:4;', '350ms n:5;', '370ms n:6;']);
  });
});

/** A framed sink with credit, as the WebSocket router gives the pump: each frame separate, `room()` its credit. */
function creditSink(credits: number) {
  const batches: string[][] = [];
  let release: (() => void) | undefined;
  const sink: PumpSink & { batches: string[][]; credits: number; grant(n: number): void } = {
    batches,
    credits,
    write: () => {
      throw new Error('a framed sink is written with writeFrames');
    },
    writeFrames(frames) {
      batches.push([...frames]);
      sink.credits -= frames.length;
      return true;
    },
    room: () => sink.credits,
    drained: () => new Promise<void>((r) => (release = r)),
    grant(n) {
      sink.credits += n;
      release?.();
    },
  };
  return sink;
}

describe('a sink with credit (room)', () => {
  it.each<[Backpressure['kind'], number]>([
    ['credit', 3],
    ['pull', 0],
    ['drop-oldest', 2],
    ['drop-newest', 5],
  ])('%s, %i credits: never sends or pulls past the grant, frames kept apart', async (kind, initial) => {
    const { state, it: source } = endless();
    const sink = creditSink(initial);
    const ac = new AbortController();
    const done = pump(source, sink, { backpressure: { kind, buffer: 4 }, signal: ac.signal, encode });
    await sleep(30);
    expect(sink.batches.flat().length).toBe(initial);
    if (kind === 'credit' || kind === 'pull') expect(state.pulled).toBe(initial);
    sink.grant(2);
    await sleep(30);
    expect(sink.batches.flat().length).toBe(initial + 2);
    for (const b of sink.batches) expect(b.every((f) => /^n:\d+(\+\d+)?;$/.test(f))).toBe(true);
    ac.abort();
    expect(await done).toEqual({ kind: 'aborted' });
  });

  it('lossy: what is queued when the handler returns waits for credit before the pump ends', async () => {
    const sink = creditSink(1);
    const end = pump(finite(3), sink, { backpressure: { kind: 'drop-oldest', buffer: 8 }, signal: new AbortController().signal, encode });
    await sleep(20);
    expect(sink.batches.flat()).toEqual(['n:1;']);
    sink.grant(1);
    await sleep(20);
    sink.grant(5);
    expect(await end).toEqual({ kind: 'done', value: { type: 'done', data: 3 }, dropped: 0 });
    expect(sink.batches.flat()).toEqual(['n:1;', 'n:2;', 'n:3;']);
  });
});

describe('quietTimer', () => {
  it('beats only after a whole quiet interval', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const beats: number[] = [];
    const t = quietTimer(100, () => beats.push(performance.now()));
    await vi.advanceTimersByTimeAsync(60);
    t.touch();
    await vi.advanceTimersByTimeAsync(90);
    expect(beats).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(beats.length).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(beats.length).toBe(2);
    t.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(beats.length).toBe(2);
  });
});
