// Abandoned consumer over WebSocket: the client's socket is destroyed or reset with no close
// frame, or the client stops answering pings. The handler's signal must fire and its `finally`
// run within 1 s of the loss being visible (the socket's end, or the heartbeat timeout).

import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoAuthenticate } from '../examples/room/handlers.ts';
import type * as Room from '../generated/room/server.ts';
import { removeWorkDirs } from './support/tools.ts';
import { connect, generateWs, JOBS_CONTRACT, listenWs, loadServer, sleep, until, within, type WsListening } from './ws-harness.ts';

let Rooms: typeof Room;
let Jobs: { createRouter(handlers: Record<string, (ctx: any) => AsyncGenerator<any, any, void>>, options?: Room.WebSocketRouterOptions): ReturnType<typeof Room.createRouter> };
beforeAll(async () => {
  Rooms = await loadServer<typeof Room>(generateWs('ws-abandon-room', 'spec/room.yaml'));
  Jobs = await loadServer(generateWs('ws-abandon-jobs', 'jobs.yaml', JOBS_CONTRACT));
});
afterAll(removeWorkDirs);

let server: WsListening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const LIMIT_MS = 1000;

interface Probe {
  yielded: number;
  abortedAt?: number;
  finallyAt?: number;
}

type Producer = 'blocked' | 'waiting' | 'reading';

/**
 * `blocked`: yields as fast as pulled, so it sits at a yield once credit runs out. `waiting`:
 * sleeps 50 ms (on its signal) before each message. `reading`: waits for client messages.
 */
function room(producer: Producer, probe: Probe): Room.RoomHandlers {
  return {
    async *room({ signal, messages }) {
      signal.addEventListener('abort', () => (probe.abortedAt = performance.now()));
      try {
        if (producer === 'reading') for await (const m of messages) yield { type: 'typing', data: { userId: m.type } };
        for (let i = 0; ; i++) {
          if (producer === 'waiting') await delay(50, undefined, { signal });
          probe.yielded++;
          yield { type: 'typing', data: { userId: `u${i}` } };
        }
      } finally {
        probe.finallyAt = performance.now();
      }
    },
  };
}

const socketOf = (ws: unknown) => (ws as { _socket: Socket })._socket;

describe('socket gone without a close frame', () => {
  it.each<[string, { producer: Producer; how: 'destroy' | 'reset' }]>([
    ['destroyed, handler blocked by credit', { producer: 'blocked', how: 'destroy' }],
    ['destroyed, handler waiting', { producer: 'waiting', how: 'destroy' }],
    ['destroyed, handler reading client messages', { producer: 'reading', how: 'destroy' }],
    ['reset (RST), handler blocked by credit', { producer: 'blocked', how: 'reset' }],
    ['reset (RST), handler waiting', { producer: 'waiting', how: 'reset' }],
  ])(`%s: aborted and finally run within ${LIMIT_MS} ms`, async (name, { producer, how }) => {
    const probe: Probe = { yielded: 0 };
    server = await listenWs(Rooms.createRouter(room(producer, probe), { authenticate: demoAuthenticate, onError: () => {} }));
    const p = await connect(`${server.base}/v1/rooms/gone`, { open: { request: {}, credits: 8 } });
    await p.until((f) => f.some((x) => x.type === '$credit'));
    if (producer !== 'reading') await p.until((f) => f.filter((x) => x.seq).length >= 3);
    if (producer === 'blocked') {
      await within(
        (async () => {
          for (let last = -1; last !== probe.yielded; await sleep(100)) last = probe.yielded;
        })(),
        5000,
        'producer paused',
      );
      expect(probe.yielded).toBe(8);
    }
    const at = performance.now();
    if (how === 'reset') socketOf(p.ws).resetAndDestroy();
    else socketOf(p.ws).destroy();
    await until(() => probe.finallyAt !== undefined, 3000, 'handler finally');
    const signalMs = probe.abortedAt! - at;
    const finallyMs = probe.finallyAt! - at;
    console.log(`ws ${name}: signal after ${signalMs.toFixed(1)} ms, finally after ${finallyMs.toFixed(1)} ms`);
    expect(signalMs).toBeLessThan(LIMIT_MS);
    expect(finallyMs).toBeLessThan(LIMIT_MS);
    await until(() => server!.sockets.size === 0, 1000, 'server socket closed');
  });
});

describe('pings unanswered', () => {
  it('a peer that stops answering pings (heartbeat timeout 300 ms) is cut off, and the handler stops', async () => {
    const probe: Probe = { yielded: 0 };
    server = await listenWs(
      Jobs.createRouter(
        {
          async *job({ signal }) {
            signal.addEventListener('abort', () => (probe.abortedAt = performance.now()));
            try {
              yield { type: 'progress', data: { n: 1 } };
              await new Promise((r) => signal.addEventListener('abort', r));
              return { type: 'done', data: null };
            } finally {
              probe.finallyAt = performance.now();
            }
          },
          async *feed() {
            return { type: 'end', data: null };
          },
        },
        { onError: () => {} },
      ),
    );
    const p = await connect(`${server.base}/v1/jobs/j`, { open: { request: { mode: 'ok' } } });
    await p.until((f) => f.some((x) => x.type === 'progress'));
    // Heartbeats keep coming while the peer answers pings.
    await sleep(450);
    expect(p.frames.filter((x) => x.type === '$heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(probe.abortedAt).toBeUndefined();
    // A frozen peer: it reads nothing, so it answers no ping.
    const at = performance.now();
    socketOf(p.ws).pause();
    await until(() => probe.finallyAt !== undefined, 3000, 'handler finally');
    const ms = probe.finallyAt! - at;
    console.log(`ws pings unanswered: finally after ${ms.toFixed(1)} ms (timeout 300 ms)`);
    expect(ms).toBeLessThan(300 + LIMIT_MS);
    // Not before the timeout: the last pong came at most one interval (100 ms) before the pause.
    expect(ms).toBeGreaterThanOrEqual(150);
  });
});
