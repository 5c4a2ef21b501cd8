// Credit-based backpressure over WebSocket with npm `ws` as the client: the server sends exactly
// the numbered frames the client granted and pulls the handler no further; a client that grants
// plenty but stops reading its socket stops the handler too (bufferedAmount), so memory is bounded.

import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backlogMessage, demoAuthenticate } from '../examples/room/handlers.ts';
import type * as Room from '../generated/room/server.ts';
import { removeWorkDirs } from './support/tools.ts';
import { closeWithin, connect, generateWs, listenWs, loadServer, sleep, until, within, type WsListening } from './ws-harness.ts';

let Rooms: typeof Room;
beforeAll(async () => {
  Rooms = await loadServer<typeof Room>(generateWs('ws-credit', 'spec/room.yaml'));
});
afterAll(removeWorkDirs);

let server: WsListening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const BUFFER = 256; // spec/room.yaml: room.backpressure.buffer

/** A room that says `message i` forever, as fast as it is pulled, counting what was pulled. */
function endless(probe: { pulled: number; stopped: boolean }, text = ''): Room.RoomHandlers {
  return {
    async *room({ params }) {
      try {
        for (let i = 0; ; i++) {
          probe.pulled++;
          const m = backlogMessage(params.roomId, i);
          yield text ? { ...m, data: { ...(m.data as object), text } } as Room.RoomYield : m;
        }
      } finally {
        probe.stopped = true;
      }
    },
  };
}

/** Waits until `read()` has not changed for `quietMs`. */
async function settled(read: () => number, quietMs = 200): Promise<number> {
  for (let last = -1; ; await sleep(quietMs)) {
    const now = read();
    if (now === last) return now;
    last = now;
  }
}

describe('credit', () => {
  it.each<[string, { open?: number; grants: number[] }]>([
    ['the contract default grant (32)', { grants: [5, 1, 40] }],
    ['an open-frame grant of 3', { open: 3, grants: [2, 7] }],
    ['an open-frame grant of 0', { open: 0, grants: [1, 1] }],
  ])('%s: the server stops at exactly what was granted, and so does the handler', async (_, { open, grants }) => {
    const probe = { pulled: 0, stopped: false };
    server = await listenWs(Rooms.createRouter(endless(probe), { authenticate: demoAuthenticate, onError: () => {} }));
    const p = await connect(`${server.base}/v1/rooms/credit`, { open: { request: {}, ...(open !== undefined ? { credits: open } : {}) } });
    let granted = open ?? 32;
    const check = async () => {
      await within(settled(() => p.numbered().length), 5000, 'frames settle');
      expect(p.numbered().length).toBe(granted);
      expect(p.numbered().map((f) => f.seq)).toEqual(Array.from({ length: granted }, (_, i) => i + 1));
      // Pulled only what could be sent: none waits in the server beyond the grant.
      expect(probe.pulled).toBe(granted);
    };
    await check();
    for (const n of grants) {
      p.send({ type: '$credit', n });
      granted += n;
      await check();
    }
    p.ws.close();
    await until(() => probe.stopped, 1000, 'handler finally');
  });

  it('the terminal frame waits for credit too', async () => {
    const handlers: Room.RoomHandlers = {
      async *room() {
        yield { type: 'joined', data: { userId: 'u', displayName: 'u' } };
        yield { type: 'left', data: { userId: 'u', displayName: 'u' } };
        return { type: 'closed', data: { reason: 'roomDeleted' } };
      },
    };
    server = await listenWs(Rooms.createRouter(handlers, { authenticate: demoAuthenticate, onError: () => {} }));
    const p = await connect(`${server.base}/v1/rooms/credit`, { open: { request: {}, credits: 2 } });
    await sleep(200);
    expect(p.numbered().map((f) => f.type)).toEqual(['joined', 'left']);
    p.send({ type: '$credit', n: 1 });
    expect((await closeWithin(p)).code).toBe(1000);
    expect(p.numbered().map((f) => f.type)).toEqual(['joined', 'left', 'closed']);
  });
});

/** What the kernel can hold between the two sockets on loopback (send + receive buffers); elsewhere 64 MiB. */
function kernelBytes(): number {
  try {
    const max = (f: string) => Number(readFileSync(`/proc/sys/net/ipv4/${f}`, 'utf8').trim().split(/\s+/)[2]);
    return max('tcp_wmem') + max('tcp_rmem');
  } catch {
    return 64 * 2 ** 20;
  }
}

describe('slow consumer', () => {
  it('a client that grants without limit but stops reading stops the handler (bufferedAmount), and it resumes when reading resumes', async () => {
    const probe = { pulled: 0, stopped: false };
    const text = 'x'.repeat(1000);
    server = await listenWs(Rooms.createRouter(endless(probe, text), { authenticate: demoAuthenticate, onError: () => {} }));
    const p = await connect(`${server.base}/v1/rooms/slow`, { open: { request: {}, credits: Number.MAX_SAFE_INTEGER } });
    await p.until((f) => f.length > 10);
    const socket = (p.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    const stalled = await within(settled(() => probe.pulled, 300), 20_000, 'producer paused');
    const frameBytes = JSON.stringify(p.numbered()[0]).length;
    console.log(`slow consumer: handler paused after ${stalled} messages of ${frameBytes} B; client had read ${p.numbered().length}`);
    // Paused, not queued for: what was pulled fits in the socket buffers plus one batch of `buffer`.
    expect(stalled).toBeLessThanOrEqual(BUFFER + kernelBytes() / frameBytes + 64);
    await sleep(300);
    expect(probe.pulled).toBe(stalled);
    socket.resume();
    await until(() => probe.pulled > stalled + 1000, 10_000, 'producer resumed');
    await until(() => p.numbered().length >= stalled, 10_000, 'client caught up');
    expect(p.numbered().slice(0, stalled).map((f) => f.seq)).toEqual(Array.from({ length: stalled }, (_, i) => i + 1));
  });
});
