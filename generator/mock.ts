// `streamspec mock`: serves every stream of a contract with schema-valid example messages, through
// the very server code `generate` emits, so a front end can be built before its back end exists.
// Messages depend only on their position in the stream, so runs can be compared and a resumed
// stream continues exactly where it left off. Over WebSocket the generated router also takes the
// client's messages and validates them (an invalid one gets the contract's answer: an in-band
// error, or close 1007). Over gRPC every rpc is served on one port (h2c and HTTP/1.1, as the
// generated createH2cServer does); the router validates client messages, and an invalid one
// ends the call with INVALID_ARGUMENT (or, for in-band errors, becomes the error message).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { GrpcRouter } from '../templates/runtime/grpc-server.ts';
import type { AuthRequest } from '../templates/runtime/auth.ts';
import type { HttpRouter, RouterOptions } from '../templates/runtime/http-router.ts';
import type { WebSocketRouter } from '../templates/runtime/ws-router.ts';
import type { Issue } from '../templates/runtime/validation.ts';
import { hasErrors, type Diagnostic } from './diagnostics.ts';
import { generate } from './generate.ts';
import type { BoundContract, BoundStream } from './ir/bind.ts';
import type { NamedType, SchemaNode, Transport } from './ir/types.ts';
import { lintSpec } from './pipeline.ts';
import { example } from './schema/examples.ts';
import { buildProtoModel } from './schema/proto.ts';

export const MOCK_TRANSPORTS = ['sse', 'ndjson', 'websocket', 'grpc'] as const;
type MockTransport = (typeof MOCK_TRANSPORTS)[number];
export const MOCK_DEFAULTS = { port: 0, count: 10, interval: 50 };

export interface MockOptions {
  readonly spec: string;
  /** Default: the contract's own transport. Every transport can be mocked. */
  readonly transport?: Transport;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Messages per stream before the terminal message (default 10). */
  readonly count?: number;
  /** Pause between messages in ms (default 50); a `sample` stream waits at least its interval. */
  readonly interval?: number;
  readonly cwd?: string;
  /** Where handler and router errors go; default console.error. */
  readonly onError?: RouterOptions['onError'];
  /** Serve the conformance control endpoint (HTTP transports), so every conformance check can run. */
  readonly conformanceControl?: boolean;
  /** AsyncAPI input: apply the documented defaults for missing primitives (see lintSpec). */
  readonly assumeDefaults?: boolean;
}

export interface MockRoute {
  readonly stream: string;
  /**
   * `WS`: a WebSocket upgrade (`ws://` plus the path, subprotocol streamspec.v1). `RPC`: a gRPC
   * method over Connect, gRPC or gRPC-web; its path is `/<package>.<Service>/<Rpc>`.
   */
  readonly method: 'GET' | 'POST' | 'WS' | 'RPC';
  /** The contract's path template, `/v1/conversations/{conversationId}/completion`, or the rpc's path. */
  readonly path: string;
}

export interface MockServer {
  /** `http://127.0.0.1:PORT`, no trailing slash (WebSocket clients use `ws://` on the same port). */
  readonly url: string;
  readonly transport: MockTransport;
  readonly routes: readonly MockRoute[];
  /** The contract's warnings (errors stop the mock before it starts). */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
  /** Example messages that may break the contract, as `file:line:col what`: add `examples` there. */
  readonly problems: readonly string[];
  /** Stops every stream, closes the server and removes the generated code. */
  close(): Promise<void>;
}

/** The contract has errors; nothing was started. */
export class MockContractError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    readonly sources: ReadonlyMap<string, string>,
  ) {
    super('the contract has errors');
    this.name = 'MockContractError';
  }
}

/** The transport cannot be mocked (a transport added to the IR before its mock). */
export class MockTransportError extends Error {
  constructor(readonly transport: Transport) {
    super(`the ${transport} transport is not available for mock; use --transport ${MOCK_TRANSPORTS.join(', ')}`);
    this.name = 'MockTransportError';
  }
}

interface Stamped {
  readonly type: string;
  readonly data: unknown;
}

/** What the mock's handlers read of either router's context. */
interface MockContext {
  readonly resumeFrom: number | undefined;
  readonly signal: AbortSignal;
  /** WebSocket and gRPC streams with client messages. */
  readonly messages?: AsyncIterable<unknown>;
}

type AnyRouter =
  | { readonly kind: 'http'; readonly router: HttpRouter }
  | { readonly kind: 'websocket'; readonly router: WebSocketRouter }
  | { readonly kind: 'grpc'; readonly router: GrpcRouter };

/** npm packages the generated server of a transport imports, which the temp folder must reach. */
const SERVER_PACKAGES: Readonly<Partial<Record<MockTransport, readonly string[]>>> = {
  websocket: ['ws'],
  grpc: ['@bufbuild/protobuf', '@connectrpc/connect', '@connectrpc/connect-node'],
};

export async function startMock(opts: MockOptions): Promise<MockServer> {
  const cwd = opts.cwd ?? process.cwd();
  const count = opts.count ?? MOCK_DEFAULTS.count;
  const interval = opts.interval ?? MOCK_DEFAULTS.interval;
  if (opts.transport && !isMockTransport(opts.transport)) throw new MockTransportError(opts.transport);

  // Lint first: the IR drives the handlers, and a websocket contract should fail before generating.
  const assumeDefaults = opts.assumeDefaults ?? false;
  const lint = lintSpec(opts.spec, { cwd, assumeDefaults, ...(opts.transport ? { transport: opts.transport } : {}) });
  if (!lint.bound || hasErrors(lint.diagnostics)) throw new MockContractError(lint.diagnostics, lint.sources);
  const bound = lint.bound;
  const transport = bound.transport;
  if (!isMockTransport(transport)) throw new MockTransportError(transport);

  const dir = mkdtempSync(join(tmpdir(), 'streamspec-mock-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let router: AnyRouter | undefined;
  let server: Server | NetServer | undefined;
  try {
    // The generated files are ESM; without this a .ts file under /tmp would load as CommonJS.
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    // The generated routers import npm packages (`ws`; protobuf-es and Connect) that nothing
    // under the temp folder can resolve: it gets streamspec's own copies.
    for (const name of SERVER_PACKAGES[transport] ?? []) {
      mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
      symlinkSync(packageRoot(name), join(dir, 'node_modules', name), 'junction');
    }
    const out = join(dir, 'generated');
    const result = await generate({ spec: opts.spec, transport, out, cwd, assumeDefaults });
    if (!result.ok) {
      if (hasErrors(result.diagnostics)) throw new MockContractError(result.diagnostics, result.sources);
      throw new Error(`could not generate the mock server: ${result.write && !result.write.ok ? result.write.error.message : 'unknown error'}`);
    }
    const serverModule = (await import(pathToFileURL(join(out, 'server.ts')).href)) as {
      createRouter(handlers: Record<string, unknown>, options?: RouterOptions): HttpRouter | WebSocketRouter | GrpcRouter;
      /** gRPC only. */
      createH2cServer?(handler: GrpcRouter['node']): NetServer;
    };
    const validators = (await import(pathToFileURL(join(out, 'validate.ts')).href)) as Record<string, (m: unknown) => Issue[]>;

    const types = new Map(bound.contract.types.map((t) => [t.key, t]));
    const problems = new Set<string>();
    const handlers: Record<string, (ctx: MockContext) => AsyncGenerator<Stamped, Stamped, void>> = {};
    for (const b of bound.streams) {
      const messages = createMessages(b, types);
      const total = b.stream.messages.length === 0 ? 0 : count;
      // Two rounds of every message type show what a contract's examples lack, before anyone connects.
      const sample = [...Array.from({ length: Math.min(total, 2 * b.stream.messages.length) }, (_, i) => messages.at(i)), messages.terminal(total)];
      const validate = validators[`validate${b.stream.name.pascal}Message`];
      for (const m of sample) {
        for (const p of m.problems) problems.add(`${p.pos.file}:${p.pos.line}:${p.pos.col} ${p.message}`);
        for (const issue of validate?.(m.message) ?? [])
          problems.add(`stream ${b.stream.name.wire}, message ${m.message.type}: ${issue.path} ${issue.message}`);
      }
      const backpressure = b.stream.backpressure;
      // A sampled stream keeps one value per interval: pacing slower drops nothing, so every run is the same.
      const pace = Math.max(interval, backpressure.kind === 'sample' ? backpressure.intervalMs : 0);
      const terminal = messages.terminal(total).message;
      const direction = b.stream.direction;
      handlers[b.stream.name.camel] = async function* ({ resumeFrom, signal, messages: inbox }) {
        // The router has validated each client message; the mock takes them so the client's grant
        // keeps flowing. Client-to-server: the client speaks first, until it half-closes (an
        // invalid message throws here: the call ends with the router's INVALID_REQUEST).
        if (inbox && direction === 'client-to-server') for await (const _ of inbox);
        // Over gRPC with fail-fast or out-of-band errors an invalid client message surfaces in this
        // iterator, and is raised at the next message (in-band, and over WebSocket, the router
        // answers it itself and the handler never sees it).
        const failures: StreamFailure[] = [];
        if (inbox && direction !== 'client-to-server') void drain(inbox, transport === 'grpc' ? failures : undefined);
        // Message i always has seq i + 1 (nothing is dropped at this pace), so resuming is exact.
        const start = resumeFrom ?? 0;
        for (let i = start; i < total; i++) {
          // Aborted: the router has already ended the response and ignores what is returned.
          if (i > start && !(await pause(pace, signal))) return terminal;
          if (failures.length > 0) throw failures[0];
          yield messages.at(i).message;
        }
        return terminal;
      };
    }

    const created = serverModule.createRouter(handlers, {
      // Streams that require authentication take any caller; the Authorization header, when sent,
      // names the principal, so a resume is bound to it as in a real server.
      authenticate: (req: AuthRequest) => ({ id: req.headers.get('authorization') ?? 'anonymous' }),
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(opts.conformanceControl ? { conformanceControl: true } : {}),
    });
    let listener: RequestListener | undefined;
    if (transport === 'grpc') router = { kind: 'grpc', router: created as GrpcRouter };
    else if (transport === 'websocket') {
      router = { kind: 'websocket', router: created as WebSocketRouter };
      // Plain HTTP requests get a hint; every stream is an upgrade.
      listener = (_, res) => {
        res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket' });
        res.end(JSON.stringify({ code: 'UPGRADE_REQUIRED', message: 'open a WebSocket with subprotocol streamspec.v1' }));
      };
    } else {
      router = { kind: 'http', router: created as HttpRouter };
      listener = (created as HttpRouter).node;
    }
    // gRPC: Connect and gRPC-web over HTTP/1.1 and gRPC over h2c, one port (the generated server's own).
    const s: Server | NetServer = listener ? createServer(listener) : serverModule.createH2cServer!((created as GrpcRouter).node);
    if (router.kind === 'websocket') router.router.upgrade(s as Server);
    const sockets = new Set<Socket>();
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server = s;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(opts.port ?? MOCK_DEFAULTS.port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    const { port } = s.address() as AddressInfo;
    const r = router;
    const rpcPaths = transport === 'grpc' ? grpcPaths(bound) : undefined;
    let closing: Promise<void> | undefined;
    return {
      url: `http://127.0.0.1:${port}`,
      transport,
      routes: bound.streams.map((b) => ({
        stream: b.stream.name.wire,
        method: rpcPaths ? 'RPC' : transport === 'websocket' ? 'WS' : b.requestVia === 'body' ? 'POST' : 'GET',
        path: rpcPaths?.get(b.stream.name.wire) ?? b.stream.path.template,
      })),
      diagnostics: lint.diagnostics,
      sources: lint.sources,
      problems: [...problems],
      close() {
        closing ??= (async () => {
          // Aborts every running stream, so each response ends cleanly (no terminal: the client may
          // reconnect elsewhere); a socket still open after a short grace is cut.
          r.router.close();
          await new Promise<void>((resolve) => {
            s.close(() => resolve());
            if ('closeIdleConnections' in s) s.closeIdleConnections();
            setTimeout(() => sockets.forEach((socket) => socket.destroy()), 250).unref();
          });
          cleanup();
        })();
        return closing;
      },
    };
  } catch (error) {
    router?.router.close();
    server?.close();
    cleanup();
    throw error;
  }
}

function isMockTransport(t: Transport): t is MockTransport {
  return (MOCK_TRANSPORTS as readonly string[]).includes(t);
}

/** The error a client message raised in the router (StreamError: code and message). */
interface StreamFailure extends Error {
  readonly code: string;
}

/**
 * Takes every client message; the stream's abort ends it. With `failures`, a contract error the
 * iterator throws (an invalid client message) is kept there for the handler to answer.
 */
async function drain(messages: AsyncIterable<unknown>, failures?: StreamFailure[]): Promise<void> {
  try {
    for await (const _ of messages);
  } catch (e) {
    // Otherwise aborted: the connection is gone.
    if (failures && typeof (e as StreamFailure)?.code === 'string') failures.push(e as StreamFailure);
  }
}

/** `/<package>.<Service>/<Rpc>` of every stream, as Connect, gRPC and gRPC-web clients call it. */
function grpcPaths(bound: BoundContract): Map<string, string> {
  const c = bound.contract;
  const service = `${c.package.name}.${buildProtoModel(c, undefined).view.service.name}`;
  return new Map(bound.streams.map((b) => [b.stream.name.wire, `/${service}/${b.stream.name.pascal}`]));
}

/** The folder of an installed package, found from its entry point (its package.json may not be exported). */
function packageRoot(name: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(name));
  while (!existsSync(join(dir, 'package.json')) || (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`internal: cannot find the folder of npm package ${name}`);
    dir = up;
  }
  return dir;
}

/** Resolves true after `ms`, or false as soon as the signal aborts (the consumer went away). */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

interface Made {
  readonly message: Stamped;
  readonly problems: ReturnType<typeof example>['problems'];
}

/** Message i of a stream: its type cycles through the contract's messages, its data is example i. */
function createMessages(b: BoundStream, types: ReadonlyMap<string, NamedType>) {
  const s = b.stream;
  const make = (type: string, payload: SchemaNode | undefined, seed: number): Made => {
    if (!payload) return { message: { type, data: null }, problems: [] };
    const r = example(payload, types, seed);
    return { message: { type, data: r.value }, problems: r.problems };
  };
  return {
    /** Only for streams with data messages. */
    at(i: number): Made {
      const m = s.messages[i % s.messages.length]!;
      return make(m.name.wire, m.payload, i);
    },
    terminal: (seed: number): Made => make(s.termination.message.wire, s.termination.payload, seed),
  };
}
