// Slow consumer against a pull stream: the generated client reads 100 messages/s for 10 s from a
// handler that yields as fast as it is pulled (spec/assistant.yaml `completion`: pull, buffer 64,
// over SSE). The runtime must pause the producer, not queue for it.

import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, expect, it } from 'vitest';
import { openCompletion } from '../generated/assistant/client.ts';
import { createRouter, type AssistantHandlers } from '../generated/assistant/server.ts';
import { CONVERSATION, listen, sleep, type Listening } from './http-harness.ts';

const BUFFER = 64; // spec/assistant.yaml: completion.backpressure.buffer
const RATE = 100; // messages per second the consumer takes
const SECONDS = 10;
const TEXT = 'x'.repeat(40); // with id, event and index: a frame of about 100 bytes

// A full collection before reading the heap, so growth means retained memory, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => (gc(), process.memoryUsage().heapUsed);

/**
 * Bytes that can sit between the server's write buffer and the client's reader: the kernel's
 * largest TCP send and receive buffers (Linux autotunes up to these on loopback) plus 1 MiB for
 * undici's body stream. Elsewhere, a generous 64 MiB.
 */
function inFlightBound(): number {
  try {
    const max = (f: string) => Number(readFileSync(`/proc/sys/net/ipv4/${f}`, 'utf8').trim().split(/\s+/)[2]);
    return max('tcp_wmem') + max('tcp_rmem') + 2 ** 20;
  } catch {
    return 64 * 2 ** 20;
  }
}

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it(`pauses a free-running pull producer for a consumer taking ${RATE} messages/s for ${SECONDS} s`, async () => {
  let produced = 0;
  const handlers: AssistantHandlers = {
    async *completion() {
      for (let i = 0; ; i++) {
        produced++;
        yield { type: 'token', data: { text: TEXT, index: i } };
      }
    },
    async *history() {
      return { type: 'end', data: { count: 0 } };
    },
  };
  const router = createRouter(handlers, { authenticate: () => ({ id: 'test' }), onError: () => {} });
  server = await listen(router.node);
  const srv = server;
  const ac = new AbortController();
  const call = openCompletion(
    { baseUrl: server.base },
    {
      params: { conversationId: CONVERSATION },
      request: { prompt: 'slow' },
      signal: ac.signal,
    },
  );

  let consumed = 0;
  let frameBytes = 0;
  const samples: {
    t: number;
    produced: number;
    consumed: number;
    queued: number;
    live: number;
  }[] = [];
  let res: ServerResponse | undefined;
  const t0 = performance.now();
  const sampler = setInterval(() => {
    res ??= srv.exchanges[0]?.res;
    const t = performance.now() - t0;
    // One collection, at 2 s: the live heap once the path is full, the baseline for growth.
    const live = t >= 2000 && !samples.some((s) => s.live) ? heapAfterGc() : 0;
    samples.push({
      t,
      produced,
      consumed,
      queued: res?.writableLength ?? 0,
      live,
    });
  }, 100);
  try {
    for await (const m of call) {
      if (m.type !== 'token') throw new Error(`unexpected ${m.type}`);
      expect(m.data.index).toBe(consumed);
      consumed++;
      frameBytes = Math.max(frameBytes, `id: ${m.id}\nevent: token\ndata: ${JSON.stringify(m.data)}\n\n`.length);
      if (performance.now() - t0 >= SECONDS * 1000) break;
      // Paced against the clock, so timer slack does not slow the consumer below RATE.
      await sleep(t0 + (consumed * 1000) / RATE - performance.now());
    }
  } finally {
    clearInterval(sampler);
    ac.abort();
  }
  const first = samples.find((s) => s.t >= 2000)!; // by now every buffer on the path has filled
  const last = samples.at(-1)!;
  const maxQueued = Math.max(...samples.map((s) => s.queued));
  console.log(`slow consumer: consumed ${consumed}, produced ${produced}, frame ${frameBytes} B, node write buffer max ${maxQueued} B`);
  console.log(
    `  from ${Math.round(first.t)} ms to ${Math.round(last.t)} ms: produced +${last.produced - first.produced}, consumed +${last.consumed - first.consumed}`,
  );
  console.log(`  live heap ${(first.live / 2 ** 20).toFixed(1)} MiB -> ${(heapAfterGc() / 2 ** 20).toFixed(1)} MiB`);

  expect(consumed).toBeGreaterThanOrEqual(RATE * SECONDS * 0.9);
  // Paused: once the path is full the producer advances only as the consumer takes messages
  // (plus one batch of `buffer`), where a free-running one would add millions.
  expect(last.produced - first.produced).toBeLessThanOrEqual(last.consumed - first.consumed + BUFFER);
  // The runtime's own queue: the pump writes one batch of at most `buffer` frames while
  // write() still returns true, so node's write buffer stays under its high-water mark plus that.
  expect(maxQueued).toBeLessThan(srv.exchanges[0]!.res.writableHighWaterMark + BUFFER * frameBytes);
  // Everything else in flight sits in the kernel's socket buffers and undici's body buffer.
  expect(produced - consumed).toBeLessThanOrEqual(BUFFER + inFlightBound() / frameBytes);
  // Memory does not grow with time (loose: the bench holds the tight 16 MiB target, in a child).
  expect(heapAfterGc() - first.live).toBeLessThan(8 * 2 ** 20);
});
