// Lossy strategies over gRPC (test/fixtures/grpc/lossy.yaml): drop-oldest (`latest`, buffer 64),
// drop-newest (`earliest`, buffer 32) and sample (`sampled`, 100 ms), with the generated server
// and Node client over gRPC (h2c) and Connect (HTTP/1.1). A consumer that stalls fills the HTTP/2
// (or TCP) windows, and the server must shed into its bounded queue; the client must see numbered
// messages without gaps and a `dropped` count that accounts for every message it did not get.

import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';

type Any = any;
type Msg = { type: string; id: string; data: Any };

const PAD = 'p'.repeat(1000); // about 1 KB a message: the windows and socket buffers fill after thousands
const N = 20_000;

let serverMod: Any;
let clientMod: Any;
beforeAll(async () => {
  const out = join(workDir('grpc-lossy'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/lossy.yaml', out, cwd: ROOT });
  expect(r.ok).toBe(true);
  serverMod = await import(`file://${join(out, 'server.ts')}`);
  clientMod = await import(`file://${join(out, 'client.ts')}`);
});
afterAll(() => removeWorkDirs());

let running: { server: Server; router: Any } | undefined;
afterEach(async () => {
  running?.router.close();
  await new Promise((r) => running?.server.close(r) ?? r(undefined));
  running = undefined;
});

/** Handlers whose streams yield N ticks as fast as pulled (sampled: one every 10 ms for 1.5 s), then end. */
function handlers(state: { produced: number; done: Promise<void> }) {
  let finished!: () => void;
  state.done = new Promise((r) => (finished = r));
  async function* fast() {
    for (let i = 0; i < N; i++, state.produced++) yield { type: 'tick', data: { i, pad: PAD } };
    finished();
    return { type: 'end' };
  }
  return {
    latest: fast,
    earliest: fast,
    async *sampled() {
      for (let i = 0; i < 150; i++, state.produced++) {
        yield { type: 'tick', data: { i, pad: '' } };
        await sleep(10);
      }
      finished();
      return { type: 'end' };
    },
  };
}

async function serve(state: { produced: number; done: Promise<void> }): Promise<string> {
  const router = serverMod.createRouter(handlers(state), { onError: () => {} });
  const server: Server = serverMod.createH2cServer(router.node);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  running = { server, router };
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Reads a call to its end (bounded), running `each` after every message; arrival times in ms. */
async function collect(call: AsyncIterable<Msg>, ms: number, each?: () => Promise<void>): Promise<{ got: Msg[]; at: number[] }> {
  const got: Msg[] = [];
  const at: number[] = [];
  const t0 = performance.now();
  const read = (async () => {
    for await (const m of call) {
      got.push(m);
      at.push(performance.now() - t0);
      await each?.();
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([read, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms)))]);
  clearTimeout(timer);
  return { got, at };
}

function expectNumbered(got: readonly Msg[]): void {
  // Every message the client delivered is numbered 1, 2, 3, ... in one instance: no gap anywhere.
  expect(got.map((m) => Number(m.id.split('.')[1]))).toEqual(got.map((_, i) => i + 1));
  expect(new Set(got.map((m) => m.id.split('.')[0])).size).toBe(1);
}

const ticks = (got: readonly Msg[]) => got.filter((m) => m.type === 'tick').map((m) => m.data.i as number);

describe.each(['grpc', 'connect'] as const)('lossy streams over %s', (protocol) => {
  const open = (base: string, stream: string) => clientMod.createClient({ baseUrl: base, protocol })[stream]({ params: {}, request: undefined });

  it('drop-oldest (buffer 64): a stalled consumer gets the newest values, and the dropped count adds up', async () => {
    const state = { produced: 0, done: Promise.resolve() };
    const call = open(await serve(state), 'latest');
    let stalled = false;
    // Take the first message, then stall until the handler has produced everything.
    const { got } = await collect(call, 30_000, async () => {
      if (!stalled) ((stalled = true), await state.done, await sleep(100));
    });
    expectNumbered(got);
    const values = ticks(got);
    console.log(`${protocol} drop-oldest: produced ${state.produced}, delivered ${values.length}, dropped ${call.dropped}`);
    expect(got.at(-1)!.type).toBe('end');
    expect(values.length).toBeLessThan(N); // it did shed: the test means something
    expect(call.dropped).toBe(state.produced - values.length);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    // The newest `buffer` values were queued when the handler ended: all delivered, in order.
    expect(values.slice(-64)).toEqual(Array.from({ length: 64 }, (_, i) => N - 64 + i));
  });

  it('drop-newest (buffer 32): a stalled consumer gets the oldest values, and the newest are dropped', async () => {
    const state = { produced: 0, done: Promise.resolve() };
    const call = open(await serve(state), 'earliest');
    let stalled = false;
    const { got } = await collect(call, 30_000, async () => {
      if (!stalled) ((stalled = true), await state.done, await sleep(100));
    });
    expectNumbered(got);
    const values = ticks(got);
    console.log(`${protocol} drop-newest: produced ${state.produced}, delivered ${values.length}, dropped ${call.dropped}`);
    expect(got.at(-1)!.type).toBe('end');
    expect(values.length).toBeLessThan(N);
    expect(call.dropped).toBe(state.produced - values.length);
    // Nothing that entered the queue was discarded: the oldest run is whole from 0, and the
    // values produced while the queue was full, the last ones included, never arrive.
    const run = values.findIndex((v, i) => v !== i);
    expect(run === -1 ? values.length : run).toBeGreaterThanOrEqual(32);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(values).not.toContain(N - 1);
  });

  it('sample (100 ms): at most one value per interval, the latest one, and the rest counted as dropped', async () => {
    const state = { produced: 0, done: Promise.resolve() };
    const call = open(await serve(state), 'sampled');
    const { got, at } = await collect(call, 10_000);
    expectNumbered(got);
    const values = ticks(got);
    const times = at.slice(0, values.length);
    const gaps = times.slice(1).map((t, i) => Math.round(t - times[i]!));
    console.log(`${protocol} sample: produced ${state.produced}, delivered ${values.join(',')}, dropped ${call.dropped}, gaps ${gaps.join(',')} ms`);
    expect(state.produced).toBe(150);
    expect(call.dropped).toBe(state.produced - values.length);
    // 1.5 s of values at 100 ms: the first at once, about fourteen more, and the one held at the end.
    expect(values.length).toBeGreaterThanOrEqual(10);
    expect(values.length).toBeLessThanOrEqual(18);
    // Every gap is about a whole interval (arrival, not send, times: a few ms of jitter), except
    // the last: when the handler ends, the value it holds goes out at once.
    for (const g of gaps.slice(0, -1)) expect(g).toBeGreaterThanOrEqual(80);
    expect(values[0]).toBe(0);
    expect(values.at(-1)).toBe(149); // the latest value is never lost to sampling
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });
});
