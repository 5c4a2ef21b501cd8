// Lossy strategies end to end (spec/telemetry.yaml): drop-oldest (`events`, buffer 1024),
// drop-newest (`traces`, buffer 512) and sample (`readings`, 250 ms), with the generated server
// and client, over NDJSON (the committed generated/telemetry) and SSE (generated into test/.work).
// A consumer that stalls makes the server shed; the client must see numbered frames without gaps
// and a `dropped` count that accounts for every message it did not get.

import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Client from '../generated/telemetry/client.ts';
import type * as Server from '../generated/telemetry/server.ts';
import { collect, type GeneratedCode, generateInto, listen, type Listening, loadGenerated, ROOT, sleep } from './http-harness.ts';

type Generated = GeneratedCode<typeof Server, typeof Client>;

const transports: Record<'ndjson' | 'sse', Generated> = {} as never;
beforeAll(async () => {
  const load = (dir: string) => loadGenerated<typeof Server, typeof Client>(dir);
  transports.ndjson = await load(`${ROOT}generated/telemetry`);
  transports.sse = await load(generateInto('spec/telemetry.yaml', 'sse', 'lossy-sse'));
});

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Times (ms since `t0`) of each response write carrying a message of `type`, per response. */
function recordWrites(res: ServerResponse, type: string, t0: number, into: number[]): void {
  const write = res.write.bind(res) as (chunk: unknown, ...rest: unknown[]) => boolean;
  const marks = [`"type":"${type}"`, `event: ${type}\n`];
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (marks.some((m) => text.includes(m))) into.push(performance.now() - t0);
    return write(chunk, ...rest);
  }) as typeof res.write;
}

const PAD = 'p'.repeat(1000); // about 1 KB a message: the socket buffers fill after a few thousand
const N = 20_000;

/** Handlers whose lossy streams yield N (or, for readings, one every 10 ms for 1.5 s) values and end. */
function handlers(state: { produced: number; done: Promise<void> }): Server.TelemetryHandlers {
  let finished!: () => void;
  state.done = new Promise((r) => (finished = r));
  return {
    async *events() {
      for (let i = 0; i < N; i++, state.produced++)
        yield {
          type: 'event',
          data: { source: 's', severity: 'info', text: PAD, timeUnixNano: i },
        };
      finished();
    },
    async *traces() {
      for (let i = 0; i < N; i++, state.produced++) {
        const root = {
          spanId: '0123456789abcdef',
          name: PAD,
          startUnixNano: i,
          durationNanos: 1,
          children: [],
        };
        yield {
          type: 'trace',
          data: { traceId: '0123456789abcdef0123456789abcdef', root },
        };
      }
      finished();
    },
    async *readings() {
      for (let i = 0; i < 150; i++, state.produced++) {
        yield {
          type: 'reading',
          data: { sensor: 't', value: i, timeUnixNano: i },
        };
        await delay(10);
      }
      finished();
    },
  };
}

/** Index carried by each delivered data message. */
const indexOf = (m: { type: string; data: any }) =>
  m.type === 'event' ? m.data.timeUnixNano : m.type === 'trace' ? m.data.root.startUnixNano : m.data.value;

function expectNumbered(got: readonly { id: string }[]): void {
  // Every frame the client delivered is numbered 1, 2, 3, ... in one instance: no gap anywhere.
  expect(got.map((m) => Number(m.id.split('.')[1]))).toEqual(got.map((_, i) => i + 1));
  expect(new Set(got.map((m) => m.id.split('.')[0])).size).toBe(1);
}

describe.each(['ndjson', 'sse'] as const)('%s', (transport) => {
  it('drop-oldest (events, buffer 1024): a stalled consumer gets the newest values, and the dropped count adds up', async () => {
    const { server: S, client: C } = transports[transport];
    const state = { produced: 0, done: Promise.resolve() };
    server = await listen(S.createRouter(handlers(state), { onError: () => {} }).node);
    const call = C.openEvents({ baseUrl: server.base }, { params: { fleetId: 'f' }, request: {} });
    let stalled = false;
    // Take the first message, then stall until the handler has produced everything.
    const { got, err } = await collect(call, 20_000, async () => {
      if (!stalled) ((stalled = true), await state.done, await sleep(100));
    });
    expect(err).toBeUndefined();
    expectNumbered(got);
    const values = got.filter((m) => m.type === 'event').map(indexOf);
    console.log(`${transport} drop-oldest: produced ${state.produced}, delivered ${values.length}, dropped ${call.dropped}`);
    expect(got.at(-1)!.type).toBe('end');
    expect(values.length).toBeLessThan(N); // it did shed: the test means something
    expect(call.dropped).toBe(state.produced - values.length);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    // The newest `buffer` values were queued when the handler ended: all delivered, in order.
    expect(values.slice(-1024)).toEqual(Array.from({ length: 1024 }, (_, i) => N - 1024 + i));
  });

  it('drop-newest (traces, buffer 512): a stalled consumer gets the oldest values, and the newest are dropped', async () => {
    const { server: S, client: C } = transports[transport];
    const state = { produced: 0, done: Promise.resolve() };
    server = await listen(S.createRouter(handlers(state), { onError: () => {} }).node);
    const call = C.openTraces({ baseUrl: server.base }, { params: { service: 'api' } });
    let stalled = false;
    const { got, err } = await collect(call, 20_000, async () => {
      if (!stalled) ((stalled = true), await state.done, await sleep(100));
    });
    expect(err).toBeUndefined();
    expectNumbered(got);
    const values = got.filter((m) => m.type === 'trace').map(indexOf);
    console.log(`${transport} drop-newest: produced ${state.produced}, delivered ${values.length}, dropped ${call.dropped}`);
    expect(got.at(-1)!.type).toBe('end');
    expect(values.length).toBeLessThan(N);
    expect(call.dropped).toBe(state.produced - values.length);
    // Nothing that entered the queue was discarded: the oldest run is whole from 0, and the
    // values produced while the queue was full, the last ones included, never arrive.
    const run = values.findIndex((v, i) => v !== i);
    expect(run === -1 ? values.length : run).toBeGreaterThanOrEqual(512);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values).not.toContain(N - 1);
  });

  it('sample (readings, 250 ms): at most one value per interval, the latest one, and the rest counted as dropped', async () => {
    const { server: S, client: C } = transports[transport];
    const state = { produced: 0, done: Promise.resolve() };
    const router = S.createRouter(handlers(state), { onError: () => {} });
    const t0 = performance.now();
    const sent: number[] = [];
    server = await listen((req, res) => {
      recordWrites(res, 'reading', t0, sent);
      router.node(req, res);
    });
    const call = C.openReadings({ baseUrl: server.base }, { params: { deviceId: 'd' }, request: {} });
    const { got, err } = await collect(call, 10_000);
    expect(err).toBeUndefined();
    expectNumbered(got);
    const values = got.filter((m) => m.type === 'reading').map(indexOf);
    const gaps = sent.slice(1).map((t, i) => Math.round(t - sent[i]!));
    console.log(
      `${transport} sample: produced ${state.produced}, delivered ${values.join(',')}, dropped ${call.dropped}, gaps ${gaps.join(',')} ms`,
    );
    expect(state.produced).toBe(150);
    expect(call.dropped).toBe(state.produced - values.length);
    expect(values.length).toBe(sent.length); // one value per write: never two in one interval
    // 1.5 s of values at 250 ms: the first at once, about six more, and the one held at the end.
    expect(values.length).toBeGreaterThanOrEqual(5);
    expect(values.length).toBeLessThanOrEqual(9);
    // Every gap is a whole interval (timers fire no earlier, give or take 1 ms), except the last:
    // when the handler ends, the value it holds goes out at once.
    for (const g of gaps.slice(0, -1)) expect(g).toBeGreaterThanOrEqual(249);
    expect(values[0]).toBe(0);
    expect(values.at(-1)).toBe(149); // the latest value is never lost to sampling
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });
});
