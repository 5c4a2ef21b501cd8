// Abandoned consumer: the client goes away mid-stream, by aborting the generated client's
// AbortSignal, or by its socket being destroyed (FIN) or reset (RST) with no clean end. The
// handler's signal must fire and its `finally` run within 1 s, whether the handler was blocked
// by backpressure (suspended at a yield) or waiting on something of its own.

import { get, type ClientRequest } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type * as Client from '../generated/assistant/client.ts';
import type * as Server from '../generated/assistant/server.ts';
import { CONVERSATION, type GeneratedCode, generateInto, listen, type Listening, loadGenerated, ROOT, sleep, until, within } from './http-harness.ts';

type Generated = GeneratedCode<typeof Server, typeof Client>;
const transports: Record<'sse' | 'ndjson', Generated> = {} as never;
beforeAll(async () => {
  const load = (dir: string) => loadGenerated<typeof Server, typeof Client>(dir);
  transports.sse = await load(`${ROOT}generated/assistant`);
  transports.ndjson = await load(generateInto('spec/assistant.yaml', 'ndjson', 'abandon-ndjson'));
});

let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LIMIT_MS = 1000;

type Producer = 'blocked' | 'waiting';
type Abandon = 'abort' | 'destroy' | 'reset';

interface Probe {
  yielded: number;
  abortedAt?: number;
  finallyAt?: number;
}

/** `blocked`: yields as fast as pulled, so a stalled reader leaves it suspended at a yield. `waiting`: sleeps 50 ms (on its signal) before each token. */
function handlers(producer: Producer, probe: Probe): Server.AssistantHandlers {
  return {
    async *completion({ signal }) {
      signal.addEventListener('abort', () => (probe.abortedAt = performance.now()));
      try {
        for (let i = 0; ; i++) {
          if (producer === 'waiting') await delay(50, undefined, { signal });
          probe.yielded++;
          yield { type: 'token', data: { text: 'x'.repeat(100), index: i } };
        }
      } finally {
        probe.finallyAt = performance.now();
      }
    },
    async *history() {
      return { type: 'end', data: { count: 0 } };
    },
  };
}

/** Opens the stream with a bare node:http request, takes the first bytes, stops reading, then kills the socket. */
async function rawAbandon(
  base: string,
  transport: 'sse' | 'ndjson',
  how: 'destroy' | 'reset',
  stall: () => Promise<void>,
): Promise<number> {
  const accept = transport === 'sse' ? 'text/event-stream' : 'application/x-ndjson';
  let req!: ClientRequest;
  await within(
    new Promise<void>((resolve, reject) => {
      req = get(`${base}/v1/conversations/${CONVERSATION}/completion?prompt=hi`, { headers: { accept } }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', () => (res.pause(), resolve())); // then read no more: the server backs up
      });
      req.on('error', (e) => (/ECONNRESET|socket hang up/.test(String(e)) ? undefined : reject(e)));
    }),
    5000,
    'first bytes',
  );
  await stall();
  const at = performance.now();
  if (how === 'reset') req.socket!.resetAndDestroy();
  else req.socket!.destroy();
  return at;
}

describe.each(['sse', 'ndjson'] as const)('%s', (transport) => {
  it.each<[string, { producer: Producer; abandon: Abandon }]>([
    ['client AbortSignal, handler blocked by backpressure', { producer: 'blocked', abandon: 'abort' }],
    ['client AbortSignal, handler waiting', { producer: 'waiting', abandon: 'abort' }],
    ['socket destroyed, handler blocked by backpressure', { producer: 'blocked', abandon: 'destroy' }],
    ['socket destroyed, handler waiting', { producer: 'waiting', abandon: 'destroy' }],
    ['socket reset (RST), handler blocked by backpressure', { producer: 'blocked', abandon: 'reset' }],
    ['socket reset (RST), handler waiting', { producer: 'waiting', abandon: 'reset' }],
  ])(`%s: the handler is aborted and its finally runs within ${LIMIT_MS} ms`, async (name, { producer, abandon }) => {
    const { server: S, client: C } = transports[transport];
    const probe: Probe = { yielded: 0 };
    server = await listen(S.createRouter(handlers(producer, probe), { authenticate: () => ({ id: 'test' }), onError: () => {} }).node);
    // Blocked: stall until every buffer on the way has filled and the handler has stopped.
    const stall = async () => {
      if (producer === 'waiting') return;
      for (let last = -1; last !== probe.yielded; await sleep(200)) last = probe.yielded;
    };
    let at: number;
    if (abandon === 'abort') {
      const ac = new AbortController();
      const it = C.openCompletion(
        { baseUrl: server.base },
        {
          params: { conversationId: CONVERSATION },
          request: { prompt: 'hi' },
          signal: ac.signal,
        },
      )[Symbol.asyncIterator]();
      for (let i = 0; i < 3; i++) expect((await within(it.next(), 5000, 'message')).value).toMatchObject({ type: 'token' });
      await within(stall(), 10_000, 'producer paused');
      at = performance.now();
      ac.abort();
      await expect(it.next()).rejects.toMatchObject({ name: 'AbortError' });
    } else at = await rawAbandon(server.base, transport, abandon, () => within(stall(), 10_000, 'producer paused'));

    if (producer === 'blocked') {
      // The handler had stopped: a pull stream does not run on for a reader that stopped reading.
      const before = probe.yielded;
      await sleep(50);
      expect(probe.yielded).toBe(before);
    }
    await until(() => probe.finallyAt !== undefined, 3000, 'handler finally');
    const signalMs = probe.abortedAt! - at;
    const finallyMs = probe.finallyAt! - at;
    console.log(
      `${transport} ${name}: signal after ${signalMs.toFixed(1)} ms, finally after ${finallyMs.toFixed(1)} ms (${probe.yielded} yielded)`,
    );
    expect(probe.abortedAt).toBeDefined();
    expect(signalMs).toBeLessThan(LIMIT_MS);
    expect(finallyMs).toBeLessThan(LIMIT_MS);
    // No stream is left running on the server.
    await until(() => server!.exchanges.every((x) => x.res.closed), 1000, 'response closed');
  });
});
