// Resume over WebSocket with npm `ws`: a connection killed mid-stream, resumed by the id of the
// last frame received in the next open frame, delivers every message exactly once; an id the
// server no longer has is RESUME_EXPIRED (close 4410), never a silent gap.

import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backlogMessage, createHandlers, demoAuthenticate } from '../examples/room/handlers.ts';
import type * as Room from '../generated/room/server.ts';
import { removeWorkDirs } from './support/tools.ts';
import { closeWithin, connect, generateWs, listenWs, loadServer, type Frame, type WsListening } from './ws-harness.ts';

let Rooms: typeof Room;
beforeAll(async () => {
  Rooms = await loadServer<typeof Room>(generateWs('ws-resume', 'spec/room.yaml'));
});
afterAll(removeWorkDirs);

let server: WsListening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const ROOM = 'resume-room';
const BACKLOG = 60;
const JOINED = { type: 'joined', data: { userId: 'u-guest', displayName: 'ada' } };
/** Every numbered frame the room sends for a backlog of 60, then `$end`: joined, said x60, left, closed. */
const WANT = [
  JOINED,
  ...Array.from({ length: BACKLOG }, (_, i) => backlogMessage(ROOM, i)),
  { type: 'left', data: JOINED.data },
  { type: 'closed', data: { reason: 'left' } },
];

const strip = (frames: readonly Frame[]) => frames.map(({ type, data }) => ({ type, data }));

describe('connection killed mid-stream', () => {
  it.each([5, 17, 40])('after %i frames: the resumed connection delivers every message exactly once', async (killAt) => {
    const stops: number[] = [];
    server = await listenWs(Rooms.createRouter(createHandlers({ backlog: BACKLOG, delayMs: 2, onStop: (n) => stops.push(n) }), { authenticate: demoAuthenticate, onError: () => {} }));
    const url = `${server.base}/v1/rooms/${ROOM}`;
    const open = { request: { displayName: 'ada' } };

    const first = await connect(url, { open, window: 32 });
    await first.until((f) => f.filter((x) => x.seq).length >= killAt);
    // Killed: no close frame, and whatever was in flight is lost.
    (first.ws as unknown as { _socket: Socket })._socket.destroy();
    const got = first.numbered().slice(0, killAt);

    const second = await connect(url, { open: { ...open, resume: got.at(-1)!.id }, window: 32 });
    await second.until((f) => f.filter((x) => x.seq).length >= WANT.length - 2 - killAt, 10_000, 'rest of the backlog');
    second.send({ type: '$end' });
    expect((await closeWithin(second)).code).toBe(1000);
    const all = [...got, ...second.numbered()];
    expect(all.map((f) => f.seq)).toEqual(WANT.map((_, i) => i + 1));
    expect(strip(all)).toEqual(WANT);
    // One instance: the same stream id throughout.
    expect(new Set(all.map((f) => f.id!.split('.')[0])).size).toBe(1);
    // The first call was stopped (abandoned); the second continued after `resumeFrom`.
    expect(stops.length).toBe(2);
  });
});

describe('resume answers', () => {
  it('from the terminal frame: close 1000, nothing sent', async () => {
    server = await listenWs(Rooms.createRouter(createHandlers(), { authenticate: demoAuthenticate, onError: () => {} }));
    const url = `${server.base}/v1/rooms/${ROOM}`;
    const p = await connect(url, { open: { request: {} } });
    await p.until((f) => f.some((x) => x.type === 'joined'));
    p.send({ type: '$end' });
    await closeWithin(p);
    const last = p.numbered().at(-1)!;
    expect(last.type).toBe('closed');
    const again = await connect(url, { open: { request: {}, resume: last.id } });
    expect((await closeWithin(again)).code).toBe(1000);
    expect(again.frames).toEqual([]);
  });

  it.each<[string, (id: string) => string]>([
    ['an unknown instance', () => 'AAAAAAAAAAAAAAAAAAAAAA.1'],
    ['a malformed id', () => 'nope'],
    ['a position never issued', (id) => `${id.split('.')[0]}.999`],
  ])('from %s: close 4410 RESUME_EXPIRED', async (_, resume) => {
    server = await listenWs(Rooms.createRouter(createHandlers(), { authenticate: demoAuthenticate, onError: () => {} }));
    const url = `${server.base}/v1/rooms/${ROOM}`;
    const p = await connect(url, { open: { request: {} } });
    await p.until((f) => f.some((x) => x.type === 'joined'));
    const again = await connect(url, { open: { request: {}, resume: resume(p.numbered()[0]!.id!) } });
    const closed = await closeWithin(again);
    expect(closed.code).toBe(4410);
    expect(closed.reason).toMatch(/^RESUME_EXPIRED: /);
    expect(again.frames).toEqual([]);
  });

  it('from an evicted position: close 4410', async () => {
    server = await listenWs(Rooms.createRouter(createHandlers({ backlog: 1100 }), { authenticate: demoAuthenticate, onError: () => {} }));
    const url = `${server.base}/v1/rooms/${ROOM}`;
    // spec/room.yaml retains 1000 frames: once 1101 are out, frame 1 is gone.
    const p = await connect(url, { open: { request: {}, credits: 1101 } });
    await p.until((f) => f.filter((x) => x.seq).length >= 1101, 10_000);
    const again = await connect(url, { open: { request: {}, resume: p.numbered()[0]!.id } });
    expect((await closeWithin(again)).code).toBe(4410);
  });
});
