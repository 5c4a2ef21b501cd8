// Shared by the test/ws-*.test.ts suites: a node:http server on 127.0.0.1 with a WebSocket router
// attached, an npm `ws` client that records every frame and the close, bounded waits, and
// generating a contract for the websocket transport into test/.work.

import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket from 'ws';
import { cli, ROOT, workDir, writeFiles } from './support/tools.ts';
import { fileUrl, sleep, until, within } from './http-harness.ts';

export { ROOT, sleep, until, within };

export const SUBPROTOCOL = 'streamspec.v1';

export interface WsListening {
  readonly base: string;
  readonly server: Server;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** An http server whose upgrades go to `router`. */
export async function listenWs(router: { upgrade(server: Server): void; close(): void }): Promise<WsListening> {
  const server = createServer((_, res) => res.writeHead(426).end());
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  router.upgrade(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `ws://127.0.0.1:${port}`,
    server,
    sockets,
    close: async () => {
      router.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface Frame {
  readonly type: string;
  readonly seq?: number;
  readonly id?: string;
  readonly data?: any;
  readonly n?: number;
  readonly dropped?: number;
}

export interface Peer {
  readonly ws: WebSocket;
  /** Every text frame received, parsed, in order. */
  readonly frames: Frame[];
  /** Numbered frames only (no heartbeats or grants). */
  numbered(): Frame[];
  /** Resolves with the close code and reason (1006 when the connection just died). */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Waits until `cond` holds over the frames. */
  until(cond: (frames: Frame[]) => boolean, ms?: number, what?: string): Promise<void>;
}

export interface PeerOptions {
  readonly protocols?: string[];
  readonly origin?: string;
  /** Sent as the open frame right after connecting (omit: send nothing). */
  readonly open?: Record<string, unknown>;
  /**
   * Grants credit back as a consuming client does: `window` (the open frame's `credits`) topped
   * up by half each time half of it has been received.
   */
  readonly window?: number;
}

/** Connects with npm `ws`; rejects with the HTTP status when the upgrade is refused. */
export async function connect(url: string, opts: PeerOptions = {}): Promise<Peer> {
  const ws = new WebSocket(url, opts.protocols ?? [SUBPROTOCOL], opts.origin ? { origin: opts.origin } : {});
  const frames: Frame[] = [];
  let unacked = 0;
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const f = JSON.parse(data.toString()) as Frame;
    frames.push(f);
    if (opts.window === undefined || f.seq === undefined) return;
    const half = Math.max(1, Math.floor(opts.window / 2));
    if (++unacked >= half) {
      ws.send(JSON.stringify({ type: '$credit', n: unacked }));
      unacked = 0;
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await within(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    }),
    5000,
    'connect',
  );
  const peer: Peer = {
    ws,
    frames,
    numbered: () => frames.filter((f) => f.seq !== undefined),
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    until: (cond, ms = 5000, what = 'frames') => until(() => cond(frames), ms, what),
  };
  if (opts.open) peer.send({ type: '$open', ...opts.open });
  return peer;
}

/** Generates `spec` (a repo path, or a contract text written first) for websocket into test/.work; returns the folder. */
export function generateWs(name: string, spec: string, text?: string): string {
  const out = workDir(name);
  let specPath = spec;
  if (text !== undefined) {
    writeFiles(out, { [spec]: text });
    specPath = `${out}/${spec}`;
  }
  const run = cli(['generate', specPath, '--transport', 'websocket', '--out', `${out}/gen`], ROOT);
  if (run.status !== 0) throw new Error(`streamspec generate failed (${run.status}):\n${run.stderr}`);
  return `${out}/gen`;
}

export async function loadServer<S>(dir: string): Promise<S> {
  return (await import(fileUrl(dir, 'server.ts'))) as S;
}

export const closeWithin = (p: Peer, ms = 5000) => within(p.closed, ms, 'close');

/**
 * A contract for what spec/room.yaml does not cover: out-of-band errors with close codes, a
 * fail-fast server-to-client stream, and a fast heartbeat (100 ms, timeout 300 ms).
 */
export const JOBS_CONTRACT = `streamspec: "1.0"
info: { title: Jobs, version: 1.0.0 }
package: jobs.v1
transport: websocket
streams:
  job:
    path: /v1/jobs/{jobId}
    direction: bidirectional
    producer: both
    consumer: service
    params:
      jobId: { type: string }
    request:
      type: object
      required: [mode]
      properties:
        mode: { type: string, enum: [ok, fail, crash, slow, echo] }
    messages:
      progress: { type: object, required: [n], properties: { n: { type: integer, format: int32 } } }
    clientMessages:
      nudge: { type: object, required: [n], properties: { n: { type: integer, format: int32, minimum: 0 } } }
    termination: { message: done }
    errors: { mode: out-of-band, codes: [RATE_LIMITED, QUOTA_EXCEEDED, DENIED] }
    backpressure: { strategy: credit, credits: 4, buffer: 8 }
    heartbeat: { interval: 100ms, timeout: 300ms }
  feed:
    path: /v1/feed
    direction: server-to-client
    producer: server
    consumer: service
    messages:
      item: { type: object, required: [n], properties: { n: { type: integer, format: int32 } } }
    termination: { message: end }
    errors: { mode: fail-fast, codes: [GONE] }
    backpressure: { strategy: pull, buffer: 4 }
    heartbeat: { interval: 1s, timeout: 3s }
`;
