// A hand-written WebSocket server for spec/room.yaml (docs/websocket.md, on npm `ws`) with one
// deliberate fault at a time, for proving that the generated conformance suite fails a WebSocket
// server that breaks its contract (issue 6). With no fault it keeps the contract, so the suite
// passing against it shows the checks do not just fail everything. It serves the conformance
// control endpoint honestly (as templates/runtime/conformance.ts defines it) on the same port.

import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { validateRoomParams, validateRoomRequest } from '../../generated/room/validate.ts';

export const WS_FAULTS = [
  'omit-terminal',
  'skip',
  'duplicate',
  'ignore-credit',
  'close-code',
  'accept-invalid',
  'resume-gap',
  'never-stops',
] as const;
export type WsFault = (typeof WS_FAULTS)[number];

export interface BrokenWsOptions {
  /** `said` messages before the terminal `closed`. */
  readonly count: number;
  /** Pause between messages (0: as fast as credit allows). */
  readonly intervalMs: number;
}

interface Instance {
  readonly id: string;
  /** The seq of the last frame produced (the terminal is count + 1). */
  last: number;
  ended: boolean;
  handler: 'running' | 'done';
  pulled: number;
}

export interface BrokenWsServer {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  close(): Promise<void>;
}

const CONTROL = '/.well-known/streamspec/conformance/instances/';
const ROUTE = /^\/v1\/rooms\/([^/]+)$/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Frame `seq` of an instance: `said` messages 1..count, then the terminal `closed`. */
function frameText(inst: Instance, seq: number, count: number): string {
  const data =
    seq > count
      ? { reason: 'left' }
      : { messageId: `m-${seq}`, author: { userId: 'u-1', displayName: 'ada' }, text: `message ${seq}`, sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString() };
  return JSON.stringify({ seq, id: `${inst.id}.${seq}`, type: seq > count ? 'closed' : 'said', data });
}

/** Listens on 127.0.0.1; `fault` undefined keeps the contract. */
export async function startBrokenWsServer(fault: WsFault | undefined, options: BrokenWsOptions): Promise<BrokenWsServer> {
  const instances = new Map<string, Instance>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (p) => (p.has('streamspec.v1') ? 'streamspec.v1' : false) });
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const inst = path.startsWith(CONTROL) ? instances.get(decodeURIComponent(path.slice(CONTROL.length))) : undefined;
    if (!inst) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"NOT_FOUND","message":"no such instance"}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ stream: 'room', handler: inst.handler, pulled: inst.pulled, queued: 0, maxQueued: 0 }));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    const m = ROUTE.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => connection(ws, decodeURIComponent(m[1]!)));
  });

  function connection(ws: WebSocket, roomId: string): void {
    let gone = false;
    let credits = 0;
    let wake: (() => void) | undefined;
    // Also wakes a producer waiting for credit, so it sees the consumer left.
    ws.on('close', () => {
      gone = true;
      wake?.();
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { type: string; n?: number; request?: unknown; resume?: string; credits?: number };
      if (f.type === '$credit') {
        credits += f.n ?? 0;
        wake?.();
      } else if (f.type === '$open') {
        credits = f.credits ?? 32;
        void open(f);
      }
      // Client messages and `$end` are taken and ignored: this room talks on its own.
    });

    async function open(f: { request?: unknown; resume?: string }): Promise<void> {
      const issues = [...validateRoomParams({ roomId }), ...validateRoomRequest(f.request)];
      if (issues.length && fault !== 'accept-invalid') {
        ws.send(JSON.stringify({ type: '$error', data: { code: 'INVALID_REQUEST', message: issues.map((i) => `${i.path} ${i.message}`).join('; '), retryable: false } }));
        return ws.close(4400, 'INVALID_REQUEST: invalid request');
      }
      let inst: Instance;
      let from = 0;
      if (f.resume !== undefined) {
        const r = /^([\w-]{22})\.(\d+)$/.exec(f.resume);
        const known = r ? instances.get(r[1]!) : undefined;
        if (!r || !known || +r[2]! > known.last) return ws.close(4410, 'RESUME_EXPIRED: no such position');
        if (known.ended && +r[2]! === known.last) return ws.close(1000, 'the stream has ended');
        inst = known;
        from = +r[2]! + (fault === 'resume-gap' ? 1 : 0);
      } else {
        inst = { id: randomBytes(16).toString('base64url'), last: 0, ended: false, handler: 'running', pulled: 0 };
        instances.set(inst.id, inst);
      }
      ws.send('{"type":"$credit","n":256}');
      inst.handler = 'running';
      // The frames this connection sends, by seq, before faults: messages 1..count, then the terminal.
      const order: number[] = [];
      for (let seq = from + 1; seq <= options.count + 1; seq++) order.push(seq);
      if (fault === 'skip') order.splice(order.indexOf(3), 1);
      if (fault === 'duplicate') order.splice(order.indexOf(3), 0, 3);
      if (fault === 'omit-terminal') order.pop();
      try {
        for (const [i, seq] of order.entries()) {
          // never-stops: the producer goes on after the consumer left (and says so at the control endpoint).
          if (gone && fault !== 'never-stops') return;
          if (options.intervalMs && i > 0) await sleep(options.intervalMs);
          inst.pulled++;
          if (gone) continue;
          while (credits <= 0 && fault !== 'ignore-credit' && !gone) await new Promise<void>((r) => (wake = r));
          if (gone) continue;
          credits--;
          ws.send(frameText(inst, seq, options.count));
          inst.last = Math.max(inst.last, seq);
          if (seq === options.count + 1) inst.ended = true;
        }
        if (!gone) ws.close(fault === 'close-code' ? 1001 : 1000, 'stream ended');
      } finally {
        if (fault !== 'never-stops') inst.handler = 'done';
      }
    }
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      wss.close();
      await new Promise((r) => server.close(r));
    },
  };
}
