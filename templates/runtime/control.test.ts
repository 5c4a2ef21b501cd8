import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CONTROL_PATH, createControl, createHeldCounter, type InstanceStats } from './control.ts';
import { createHttpRouter, type StreamDescriptor } from './http-router.ts';
import { createWebSocketRouter, SUBPROTOCOL, type WebSocketDescriptor } from './ws-router.ts';

// A pump that ignores a full transport (every write "accepted", every drain at once): the bug the
// routers' own count must show, since the pump's count of what it holds cannot.
const broken = vi.hoisted(() => ({ on: false }));
vi.mock('./stream-pump.ts', async (original) => {
  const real = await original<typeof import('./stream-pump.ts')>();
  return {
    ...real,
    pump: ((source, sink, options) =>
      real.pump(
        source,
        broken.on
          ? {
              write: (chunk) => (sink.write(chunk), true),
              drained: () => Promise.resolve(),
              ...(sink.writeFrames ? { writeFrames: (frames: readonly string[]) => (sink.writeFrames!(frames), true) } : {}),
              ...(sink.room ? { room: sink.room } : {}),
            }
          : sink,
        options,
      )) as typeof real.pump,
  };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('createHeldCounter', () => {
  const stats = (): InstanceStats => ({ stream: 's', handler: 'running', pulled: 0, queued: 0, maxQueued: 0 });

  it('adds frames written while the transport is full to what the pump holds, until it drains', async () => {
    const s = stats();
    let drain = () => {};
    const held = createHeldCounter(s, () => new Promise<void>((r) => (drain = r)));
    held.pump.queued = 2;
    held.pump.pulled = 5;
    expect(s).toMatchObject({ pulled: 5, queued: 2, maxQueued: 2 });
    held.wrote(1, true);
    held.wrote(3, false); // this write filled it: taken, not held
    expect(s).toMatchObject({ queued: 2, maxQueued: 2 });
    held.pump.queued = 0;
    held.wrote(4, false); // written while full: held
    held.wrote(1, false);
    expect(s).toMatchObject({ queued: 5, maxQueued: 5 });
    drain();
    await sleep(0);
    expect(s).toMatchObject({ queued: 0, maxQueued: 5 });
    held.wrote(1, true);
    expect(s.queued).toBe(0);
  });
});

describe('the routers count what they hold apart from the pump', () => {
  let server: Server | undefined;
  let close = () => {};
  afterEach(async () => {
    broken.on = false;
    close();
    server?.closeAllConnections();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  const BUFFER = 4;
  // More than loopback socket buffers hold (several MB), so a consumer that reads nothing stalls the server.
  const COUNT = 20_000;
  const text = 'x'.repeat(1000);
  async function* many() {
    for (let n = 1; n <= COUNT; n++) yield { type: 'tick', data: { n, text } };
    return { type: 'done', data: null };
  }
  const shape = {
    name: 'ticks',
    path: ['/ticks'],
    validateParams: () => [],
    validateMessage: () => [],
    terminal: 'done',
    heartbeatMs: 60_000,
  };

  const listen = async () => {
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server!.address() as AddressInfo).port}`;
  };
  const report = async (host: string, streamId: string) =>
    (await (await fetch(`http://${host}${CONTROL_PATH}/instances/${streamId}`)).json()) as InstanceStats;

  /** Opens the stream with a consumer that reads nothing; the instance's report once the server stalls. */
  async function stalled(transport: 'sse' | 'websocket'): Promise<InstanceStats> {
    let host: string;
    let streamId: string;
    if (transport === 'sse') {
      const d: StreamDescriptor = { ...shape, method: 'GET', errors: { mode: 'fail-fast', codes: ['INTERNAL'] }, backpressure: { kind: 'pull', buffer: BUFFER } };
      const router = createHttpRouter('sse', [[d, many as never]], { onError: () => {}, conformanceControl: true });
      close = () => router.close();
      server = createServer(router.node);
      host = await listen();
      const res = await new Promise<import('node:http').IncomingMessage>((resolve) =>
        import('node:http').then(({ get }) => get(`http://${host}/ticks`, resolve)),
      );
      // The first event's id names the instance; then nothing more is read.
      let seen = '';
      streamId = await new Promise<string>((resolve) => {
        const read = (c: Buffer) => {
          const m = /id: ([\w-]{22})\./.exec((seen += c.toString()));
          if (!m) return;
          res.off('data', read);
          res.pause();
          resolve(m[1]!);
        };
        res.on('data', read);
      });
    } else {
      const d: WebSocketDescriptor = {
        ...shape,
        direction: 'server-to-client',
        errors: { mode: 'fail-fast', codes: ['INTERNAL'] },
        backpressure: { kind: 'pull', buffer: BUFFER, credits: BUFFER },
        heartbeatTimeoutMs: 60_000,
      };
      const router = createWebSocketRouter([d], { ticks: many as never }, { onError: () => {}, conformanceControl: true });
      close = () => router.close();
      server = createServer();
      router.upgrade(server);
      host = await listen();
      const ws = new WebSocket(`ws://${host}/ticks`, [SUBPROTOCOL]);
      // Credit for everything: only the socket can hold the server back.
      ws.on('open', () => ws.send(JSON.stringify({ type: '$open', credits: 100_000 })));
      const first = await new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
      ws.pause();
      streamId = /"id":"([\w-]{22})\./.exec(first)![1]!;
    }
    await sleep(500);
    return report(host, streamId);
  }

  it.each(['sse', 'websocket'] as const)('%s: a pump that respects a full transport holds at most buffer', async (transport) => {
    const r = await stalled(transport);
    expect(r.pulled).toBeGreaterThan(BUFFER);
    expect(r.pulled).toBeLessThan(COUNT);
    expect(r.maxQueued).toBeLessThanOrEqual(BUFFER);
  });

  it.each(['sse', 'websocket'] as const)('%s: a pump that ignores a full transport shows in maxQueued', async (transport) => {
    broken.on = true;
    const r = await stalled(transport);
    expect(r.maxQueued).toBeGreaterThan(100);
  });
});

describe('createControl', () => {
  it('answers the stats of a known instance, 404 for others', () => {
    const control = createControl(2);
    const s = control.stats('a', 'ticks');
    s.pulled = 3;
    expect(control.answer(`${CONTROL_PATH}/instances/a`)).toEqual({ status: 200, body: { stream: 'ticks', handler: 'running', pulled: 3, queued: 0, maxQueued: 0 } });
    expect(control.answer(`${CONTROL_PATH}/instances/b`)?.status).toBe(404);
    expect(control.answer('/elsewhere')).toBeUndefined();
  });
});
