// Files the gRPC transport adds to the common ones (types, validators, proto): the Connect
// server, the Node client (`client.ts`, every direction, connect-node) and the browser client
// (`client.browser.ts`, server-streaming streams only, connect-web) around the `_pb.ts` that
// protoc-gen-es writes from our own proto. Two files, not one with an injected transport, so
// a browser bundle can never reach connect-node (node:http2) through an import.
// `buf generate` runs here, with the local plugin from node_modules: no remote plugins, no network.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { NamedType } from '../ir/types.ts';
import { buildProtoModel, type ProtoStreamPlan } from '../schema/proto.ts';
import { code, tsValue } from '../render/escape.ts';
import type { Target } from './index.ts';
import { runtimeTargets } from './runtime.ts';
import { contractNames, streamView as sharedStreamView, typesByKey } from './stream-view.ts';
import { sendsClientMessages } from './websocket-client.ts';

/** Runtime modules (templates/runtime/) copied for this transport, beyond validation and errors. */
export const GRPC_RUNTIME: readonly string[] = [
  'auth.ts',
  'frames.ts',
  'bounded-queue.ts',
  'replay-buffer.ts',
  'instance-registry.ts',
  'injector.ts',
  'stream-pump.ts',
  'grpc-binary.ts',
  'grpc-codec.ts',
  'grpc-status.ts',
  'grpc-server.ts',
  'grpc-call.ts',
  'grpc-client.ts',
  'control.ts',
  'conformance.ts',
  'conformance-grpc.ts',
];
/** Copied only beside a browser client (`client.browser.ts`). */
const GRPC_BROWSER_RUNTIME: readonly string[] = ['grpc-browser-client.ts'];

// ---------------------------------------------------------------------------------------------
// buf

const require = createRequire(import.meta.url);

/** The buf binary and protoc-gen-es of the installed npm packages. */
export function bufTools(): { buf: string; protocGenEs: string } {
  return {
    buf: require.resolve('@bufbuild/buf/bin/buf'),
    protocGenEs: require.resolve('@bufbuild/protoc-gen-es/bin/protoc-gen-es'),
  };
}

/** buf exited non-zero, or could not be started; `message` is buf's own output. */
export class BufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BufError';
  }
}

/** Runs buf in `cwd`; resolves with its output, rejects with BufError when it fails. */
export function runBuf(args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(bufTools().buf, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    } catch (e) {
      return reject(new BufError(`cannot run buf: ${(e as Error).message}`));
    }
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new BufError(`cannot run buf: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve({ stdout, stderr });
      const why = signal ? `was stopped (${signal})` : `exited with status ${code}`;
      reject(new BufError(`buf ${args[0]} ${why}${`${stderr}${stdout}`.trim() ? `:\n${`${stderr}${stdout}`.trim()}` : ''}`));
    });
  });
}

/** Files produced by earlier runs of this process, by the proto texts they came from (watch mode). */
const generatedPb = new Map<string, readonly { path: string; text: string }[]>();

/**
 * `buf generate` with the local protoc-gen-es (target ts) on the given proto files (paths
 * relative to the proto root, as in `proto/buf.yaml`). Returns the `_pb.ts` files, paths
 * relative to the same root, in a stable order. Throws BufError.
 */
export async function generateProtobufEs(
  protos: readonly { path: string; text: string }[],
  bufYaml: string,
): Promise<{ path: string; text: string }[]> {
  const key = JSON.stringify([protos, bufYaml]);
  const known = generatedPb.get(key);
  if (known) return [...known];
  const dir = mkdtempSync(join(tmpdir(), 'streamspec-buf-'));
  try {
    for (const p of protos) {
      mkdirSync(dirname(join(dir, p.path)), { recursive: true });
      writeFileSync(join(dir, p.path), p.text);
    }
    writeFileSync(join(dir, 'buf.yaml'), bufYaml);
    // import_extension=js: the files import each other the way NodeNext wants.
    const gen = [
      'version: v2',
      'plugins:',
      `  - local: ${JSON.stringify(bufTools().protocGenEs)}`,
      '    out: out',
      '    opt: [target=ts, import_extension=js]',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'buf.gen.yaml'), gen);
    await runBuf(['generate'], dir);
    const out = join(dir, 'out');
    const files = listFiles(out)
      .sort()
      .map((abs) => ({ path: relative(out, abs).split('\\').join('/'), text: readFileSync(abs, 'utf8') }));
    if (generatedPb.size > 100) generatedPb.clear();
    generatedPb.set(key, files);
    return [...files];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function listFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

// ---------------------------------------------------------------------------------------------
// server.ts and client.ts

export interface GrpcStreamView {
  readonly wire: string;
  readonly doc: string;
  /** camelCase: handler and client method name. */
  readonly method: string;
  readonly openFn: string;
  readonly descriptor: string;
  readonly contextType: string;
  readonly yieldType: string;
  readonly endType: string;
  readonly endOptional: boolean;
  readonly messageType: string;
  readonly clientMessageType: string;
  readonly paramsType: string;
  readonly requestType: string;
  /** `ctx.principal`'s type, in terms of the router's type parameter `P` (as over HTTP). */
  readonly principalType: 'P' | 'P | undefined' | 'undefined';
  readonly terminal: string;
  /** Client messages flow (client-to-server, bidirectional): the context has `messages`, the call `send`. */
  readonly sends: boolean;
  /** Server-to-client: the one direction a browser client can call. */
  readonly browser: boolean;
  /** Finished TS expression: the runtime's GrpcStreamDescriptor. */
  readonly descriptorLiteral: string;
  /** Finished TS expression: what the client runtime needs (GrpcTarget minus the file). */
  readonly targetLiteral: string;
}

export interface GrpcView {
  readonly header: string;
  readonly handlersType: string;
  readonly clientType: string;
  /** `./proto/market/v1/market_pb.js` */
  readonly pbModule: string;
  /** protoc-gen-es's export for the file descriptor, `file_market_v1_market`. */
  readonly fileExport: string;
  readonly serviceName: string;
  readonly planLiteral: string;
  readonly streams: readonly GrpcStreamView[];
  /** The streams the browser client offers (server-to-client). */
  readonly browserStreams: readonly GrpcStreamView[];
}

export function grpcView(bound: BoundContract, header: string): GrpcView {
  const { contract } = bound;
  const proto = buildProtoModel(contract, undefined);
  const stem = proto.path.replace(/\.proto$/, '');
  const types = typesByKey(bound);
  const streams = bound.streams.map((b) => streamView(b, proto.codec.streams[b.stream.name.wire]!, types));
  return {
    header,
    ...contractNames(bound),
    pbModule: `./proto/${stem}_pb.js`,
    fileExport: `file_${stem.replace(/[^a-zA-Z0-9_]+/g, '_')}`,
    serviceName: proto.view.service.name,
    planLiteral: tsValue({ enums: proto.codec.enums, wrappers: proto.codec.wrappers }),
    streams,
    browserStreams: streams.filter((s) => s.browser),
  };
}

function streamView(b: BoundStream, plan: ProtoStreamPlan, types: ReadonlyMap<string, NamedType>): GrpcStreamView {
  const s = b.stream;
  // The names every transport's view shares (stream-view.ts); gRPC adds its wire plan below.
  const shared = sharedStreamView(b, types);
  // The same rule as the WebSocket views, so a stream's `messages`/`send()` never differ by transport.
  const sends = sendsClientMessages(s);
  const noPayload = [...s.messages, ...s.clientMessages].filter((m) => m.payload === undefined).map((m) => m.name.wire);
  if (s.termination.payload === undefined) noPayload.push(s.termination.message.wire);
  const wire = {
    open: plan.open,
    ...(plan.openCase !== undefined ? { openCase: plan.openCase } : {}),
    params: plan.params,
    ...(plan.requestVia !== undefined ? { requestVia: plan.requestVia } : {}),
    ...(plan.resumeToken !== undefined ? { resumeToken: plan.resumeToken } : {}),
    events: plan.events,
    clientEvents: plan.clientEvents,
    heartbeat: plan.heartbeat,
    ...(plan.dropped !== undefined ? { dropped: plan.dropped } : {}),
  };
  const bp = s.backpressure;
  const descriptor = {
    name: s.name.wire,
    rpc: s.name.pascal,
    wire,
    noPayload,
    validateParams: code(`v.validate${s.name.pascal}Params`),
    ...(s.request ? { validateRequest: code(`v.validate${s.name.pascal}Request`) } : {}),
    validateMessage: code(`v.validate${s.name.pascal}Message`),
    ...(sends ? { validateClientMessage: code(`v.validate${s.name.pascal}ClientMessage`) } : {}),
    terminal: s.termination.message.wire,
    errors: {
      mode: s.errors.mode,
      ...(s.errors.message ? { message: s.errors.message.wire } : {}),
      codes: s.errors.codes.map((c) => c.wire),
    },
    backpressure: { kind: bp.kind, buffer: bp.buffer, ...(bp.kind === 'sample' ? { intervalMs: bp.intervalMs } : {}) },
    ...(s.resume.kind !== 'none'
      ? { resume: { messages: s.resume.retention.messages, ...(s.resume.retention.seconds !== undefined ? { seconds: s.resume.retention.seconds } : {}) } }
      : {}),
    heartbeatMs: s.heartbeat.intervalMs,
    ...(s.auth.kind !== 'default' ? { auth: s.auth.kind } : {}),
  };
  const target = {
    rpc: s.name.pascal,
    wire,
    noPayload,
    terminal: s.termination.message.wire,
    idleMs: s.heartbeat.timeoutMs,
    resume: s.resume.kind !== 'none',
    buffer: bp.buffer,
  };
  return {
    wire: shared.wire,
    doc: shared.doc,
    method: shared.method,
    openFn: shared.openFn,
    descriptor: shared.descriptor,
    contextType: shared.contextType,
    yieldType: shared.yieldType,
    endType: shared.endType,
    endOptional: shared.endOptional,
    messageType: shared.messageType,
    clientMessageType: sends ? `T.${s.typeNames.clientMessage}` : 'never',
    paramsType: shared.paramsType,
    requestType: shared.requestType,
    principalType: shared.principalType,
    terminal: shared.terminal,
    sends,
    browser: s.direction === 'server-to-client',
    descriptorLiteral: tsValue(descriptor),
    targetLiteral: tsValue(target),
  };
}

/** A reference to generated code inside a literal (a validator), printed as is. */
export function grpcTargets(bound: BoundContract, tsHeader: string): Target[] {
  const view = grpcView(bound, tsHeader);
  return [
    { kind: 'template', path: 'server.ts', template: 'server/grpc.ts.hbs', context: view, finish: 'ts' },
    { kind: 'template', path: 'client.ts', template: 'client/grpc.ts.hbs', context: view, finish: 'ts' },
    // Only when there is a stream a browser can read: an empty client would offer nothing.
    ...(view.browserStreams.length > 0
      ? [
          { kind: 'template', path: 'client.browser.ts', template: 'client/grpc-browser.ts.hbs', context: view, finish: 'ts' } as const,
          ...runtimeTargets(GRPC_BROWSER_RUNTIME, 'runtime', tsHeader),
        ]
      : []),
  ];
}
