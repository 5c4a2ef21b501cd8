// A hand-written gRPC server for the `quotes` rpc of test/fixtures/grpc/market.yaml (docs/grpc.md
// "Wire", on connect-node, NOT the generated router) with one deliberate fault at a time, for
// proving that the generated conformance checks fail a gRPC server that breaks its contract
// (issue 6). With no fault it keeps the contract, so the checks passing against it show they do
// not just fail everything. It serves the conformance control endpoint honestly (as
// templates/runtime/control.ts defines its JSON) on the same port.
//
// It needs the fixture generated into a work dir (`generated`): the protobuf-es descriptors of
// proto/market/v1/market_pb.ts, the contract's validators (validate.ts) and createH2cServer
// (server.ts), which splits HTTP/1.1 (the control endpoint's fetch) from h2c gRPC on one port.

import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, type DescEnum, type DescFile, type DescMessage, type DescMethodServerStreaming, type Message } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

export const GRPC_FAULTS = [
  'omit-terminal',
  'skip',
  'duplicate',
  'reorder',
  'invalid',
  'skip-after-resume',
  'restart-on-resume',
  'ignore-backpressure',
  'never-stops',
  'no-stream-id',
  'error-after-terminal',
  'not-ok-after-end',
  'accepts-unknown-resume',
  'silent',
  'accepts-invalid',
  // No `drops`: the quotes stream is pull and not lossy, so QuotesResponse has no `dropped` field
  // (the wire plan has no `dropped`) and there is nothing a server could set.
] as const;
export type GrpcFault = (typeof GRPC_FAULTS)[number];

export interface BrokenGrpcOptions {
  /** The output dir of `generate` for test/fixtures/grpc/market.yaml. */
  readonly generated: string;
  /**
   * Messages before the terminal `end`. The fixture's `request.count` (0) is not used: a stream of
   * no messages would leave most checks nothing to judge.
   */
  readonly count: number;
  /** Pause between messages (0: as fast as Connect pulls them). */
  readonly intervalMs: number;
  /** `note` messages of this many characters instead of quotes, to fill HTTP/2's windows sooner. */
  readonly noteBytes?: number;
  /** A quiet stretch before message 2, with heartbeats (none with fault `silent`). */
  readonly quietMs?: number;
}

export interface BrokenGrpcServer {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  close(): Promise<void>;
}

interface Instance {
  readonly id: string;
  /** The seq of the last message produced (the terminal is count + 1). */
  last: number;
  ended: boolean;
  handler: 'running' | 'done';
  pulled: number;
  queued: number;
  maxQueued: number;
}

/** What this server uses of the generated output. */
interface Market {
  readonly file: DescFile;
  readonly response: DescMessage;
  readonly side: DescEnum;
  readonly validateQuotesParams: (v: unknown) => readonly unknown[];
  readonly validateQuotesRequest: (v: unknown) => readonly unknown[];
  readonly createH2cServer: (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;
}

const CONTROL = '/.well-known/streamspec/conformance';
const INSTANCES = `${CONTROL}/instances/`;
const HEARTBEAT_MS = 200; // the contract's heartbeat.interval
const STREAM_ID = 'streamspec-stream-id';
const ERROR_CODE = 'streamspec-error-code';

async function loadMarket(dir: string): Promise<Market> {
  const url = (p: string) => pathToFileURL(join(dir, p)).href;
  const [pb, validate, server] = await Promise.all([import(url('proto/market/v1/market_pb.ts')), import(url('validate.ts')), import(url('server.ts'))]);
  return {
    file: pb.file_market_v1_market,
    response: pb.QuotesResponseSchema,
    side: pb.SideSchema,
    validateQuotesParams: validate.validateQuotesParams,
    validateQuotesRequest: validate.validateQuotesRequest,
    createH2cServer: server.createH2cServer,
  };
}

/** A contract error as gRPC status, its code in the metadata (docs/grpc.md "Error codes"). */
const contractError = (status: Code, code: string, message: string) => new ConnectError(message, status, new Headers({ [ERROR_CODE]: code }));

/** Resolves after `ms`, or at once when `signal` aborts (undefined: not abortable). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    if (signal?.aborted) return r();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Listens on 127.0.0.1; `fault` undefined keeps the contract. */
export async function startBrokenGrpcServer(fault: GrpcFault | undefined, options: BrokenGrpcOptions): Promise<BrokenGrpcServer> {
  const market = await loadMarket(options.generated);
  const { count, intervalMs } = options;
  const instances = new Map<string, Instance>();
  let closed = false;
  const method = market.file.services[0]!.methods.find((m) => m.name === 'Quotes') as DescMethodServerStreaming;
  const sideOf = (s: string) => market.side.values.find((v) => v.name === `SIDE_${s.toUpperCase()}`)?.number ?? 0;
  const sideName = (n: number | undefined) => market.side.values.find((v) => v.number === n)?.name.replace(/^SIDE_/, '').toLowerCase();
  const heartbeat = create(market.response, { seq: 0n, event: { case: 'heartbeat', value: {} } } as never);

  /** Message `seq` with the content of `position`: quotes (or notes) 1..count, then the terminal `end`. */
  const message = (seq: number, position: number, side: string): Message => {
    if (seq === count + 1) return create(market.response, { seq: BigInt(seq), event: { case: 'end', value: { sent: BigInt(count) } } } as never);
    if (options.noteBytes) return create(market.response, { seq: BigInt(seq), event: { case: 'note', value: { value: `${position}`.padEnd(options.noteBytes, 'x') } } } as never);
    // invalid: SIDE_UNSPECIFIED reads as a side the contract does not have.
    const quote = { price: 100 + position / 4, side: fault === 'invalid' && seq === 3 ? 0 : sideOf(side), at: BigInt(1_700_000_000_000 + position) };
    return create(market.response, { seq: BigInt(seq), event: { case: 'quote', value: quote } } as never);
  };

  async function* quotes(req: Message, ctx: HandlerContext): AsyncGenerator<Message> {
    const r = req as unknown as { symbol: string; count: number; side?: number; resumeToken: string };
    const side = sideName(r.side);
    const request = { count: r.count, ...(side !== undefined ? { side } : {}) };
    const issues = [...market.validateQuotesParams({ symbol: r.symbol }), ...market.validateQuotesRequest(request)];
    if (issues.length && fault !== 'accepts-invalid') throw contractError(Code.InvalidArgument, 'INVALID_REQUEST', 'invalid params or request');

    let inst: Instance | undefined;
    let from = 0;
    if (r.resumeToken !== '') {
      const m = /^([\w-]{22})\.(\d+)$/.exec(r.resumeToken);
      const known = m ? instances.get(m[1]!) : undefined;
      if (known && +m![2]! <= known.last) {
        if (known.ended && +m![2]! === count + 1) {
          // After the end: OK with no messages, so clients stop reconnecting.
          if (fault === 'not-ok-after-end') throw contractError(Code.OutOfRange, 'RESUME_EXPIRED', 'the stream has ended');
          ctx.responseHeader.set(STREAM_ID, known.id);
          return;
        }
        inst = known;
        from = +m![2]! + (fault === 'skip-after-resume' ? 1 : 0);
      } else if (fault !== 'accepts-unknown-resume') throw contractError(Code.OutOfRange, 'RESUME_EXPIRED', `stream position ${r.resumeToken} is not retained`);
    }
    if (!inst) {
      inst = { id: randomBytes(16).toString('base64url'), last: 0, ended: false, handler: 'running', pulled: 0, queued: 0, maxQueued: 0 };
      instances.set(inst.id, inst);
    }
    const me = inst;
    if (fault !== 'no-stream-id') ctx.responseHeader.set(STREAM_ID, me.id);
    me.handler = 'running';

    // The messages this call sends, by seq, before faults: messages from+1..count, then the terminal.
    const order: number[] = [];
    for (let seq = from + 1; seq <= count + 1; seq++) order.push(seq);
    if (fault === 'skip') order.splice(order.indexOf(3), 1);
    if (fault === 'duplicate') order.splice(order.indexOf(3), 0, 3);
    if (fault === 'reorder') order.splice(order.indexOf(3), 2, 4, 3);
    if (fault === 'omit-terminal') order.pop();
    // Content depends on position, so a handler started over on resume shows: restart-on-resume
    // numbers on from the resume id but produces from message 1 again.
    const make = (seq: number) => {
      me.pulled++;
      me.last = Math.max(me.last, seq);
      if (seq === count + 1) me.ended = true;
      return message(seq, fault === 'restart-on-resume' ? seq - from : seq, side ?? 'buy');
    };
    const held = (n: number) => {
      me.queued = n;
      me.maxQueued = Math.max(me.maxQueued, n);
    };
    /** The index in `order` of the message being made or sent. */
    let next = 0;
    // never-stops: the handler ignores cancel (it waits on no signal and never says it is done).
    const signal = fault === 'never-stops' ? undefined : ctx.signal;
    try {
      if (fault === 'ignore-backpressure') {
        // Everything up front, into memory, whatever the consumer takes.
        const all = order.map(make);
        held(all.length);
        for (const [i, m] of all.entries()) {
          yield m;
          held(all.length - i - 1);
        }
      } else {
        for (const [i, seq] of order.entries()) {
          next = i;
          if (signal?.aborted) return;
          if (intervalMs && i > 0) await sleep(intervalMs, signal);
          if (options.quietMs && seq === 2) {
            // Quiet: a heartbeat each time a whole interval passes without a message.
            for (let left = options.quietMs; left > 0 && !signal?.aborted; left -= HEARTBEAT_MS) {
              await sleep(Math.min(left, HEARTBEAT_MS), signal);
              if (left > HEARTBEAT_MS && fault !== 'silent') yield heartbeat;
            }
          }
          if (signal?.aborted) return;
          // Made only when Connect asks for the next message (the generator is pulled), and taken
          // by Connect before the next pull: at most one held.
          const m = make(seq);
          held(1);
          yield m;
          held(0);
        }
        next = order.length;
      }
      if (fault === 'error-after-terminal') throw contractError(Code.Internal, 'INTERNAL', 'a failure after the end');
    } finally {
      // never-stops: Connect stopped pulling, but the producer goes on into the void and never
      // says it is done.
      if (fault !== 'never-stops') me.handler = 'done';
      else void (async () => {
        for (const seq of order.slice(next + 1)) {
          if (closed) return;
          await sleep(intervalMs);
          make(seq);
        }
      })();
    }
  }

  const adapter = connectNodeAdapter({ routes: (router: ConnectRouter) => router.rpc(method, quotes as never) });
  const server = market.createH2cServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!path.startsWith(CONTROL)) return adapter(req, res);
    const inst = path.startsWith(INSTANCES) ? instances.get(decodeURIComponent(path.slice(INSTANCES.length))) : undefined;
    const [status, body] = inst
      ? [200, { stream: 'quotes', handler: inst.handler, pulled: inst.pulled, queued: inst.queued, maxQueued: inst.maxQueued }]
      : [404, { code: 'NOT_FOUND', message: 'no such stream instance' }];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      closed = true;
      const done = new Promise((r) => server.close(r));
      for (const s of sockets) s.destroy();
      await done;
    },
  };
}
