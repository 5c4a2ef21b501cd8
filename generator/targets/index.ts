// Which files a bound contract becomes, with what template and context. One list for every
// transport; a transport's own artifacts join it as their issues land.

import { fileURLToPath } from 'node:url';
import type { BoundContract } from '../ir/bind.ts';
import { header } from '../render/header.ts';
import { buildProtoModel, parseProtoLock, printProtoLock } from '../schema/proto.ts';
import type { Transport } from '../ir/types.ts';
import { conformanceTargets } from './conformance.ts';
import { grpcTargets, GRPC_RUNTIME } from './grpc.ts';
import { httpView } from './http.ts';
import { runtimeTargets } from './runtime.ts';
import { sdkTargets, type SdkOptions } from './sdk.ts';
import { typesView, validateView } from './typescript.ts';
import { websocketTargets, WEBSOCKET_RUNTIME } from './websocket.ts';

export const TEMPLATES_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

/** How a file's text is finished after rendering. */
export type Finish = 'ts' | 'none';

export type Target =
  | { readonly kind: 'template'; readonly path: string; readonly template: string; readonly context: unknown; readonly finish: Finish }
  | { readonly kind: 'text'; readonly path: string; readonly text: string; readonly finish: Finish };

/** Runtime modules copied verbatim into `runtime/`, per transport. */
const RUNTIME_FILES: Readonly<Record<Transport, readonly string[]>> = (() => {
  const base = ['validation.ts', 'errors.ts'];
  const httpServer = [
    'auth.ts',
    'frames.ts',
    'sse-writer.ts',
    'ndjson-writer.ts',
    'bounded-queue.ts',
    'replay-buffer.ts',
    'instance-registry.ts',
    'stream-pump.ts',
    'http-exchange.ts',
    'http-router.ts',
    'control.ts',
  ];
  return {
    sse: [...base, ...httpServer, 'client.ts', 'sse-source.ts', 'conformance.ts'],
    ndjson: [...base, ...httpServer, 'client.ts', 'ndjson-source.ts', 'conformance.ts'],
    websocket: [...base, ...WEBSOCKET_RUNTIME],
    grpc: [...base, ...GRPC_RUNTIME],
  };
})();

export const PROTO_LOCK_FILE = 'proto.lock.json';

export interface TargetInput {
  readonly bound: BoundContract;
  /** Text of the previous `proto.lock.json` in the output folder, if any. */
  readonly previousLock: string | undefined;
  /** Set: the files of a publishable client package instead (see sdk.ts; check sdkProblem first). */
  readonly sdk?: SdkOptions;
}

export function targetsFor({ bound, previousLock, sdk }: TargetInput): Target[] {
  const c = bound.contract;
  const ts = header(c.file, c.hash, 'ts');
  if (sdk) return sdkTargets(bound, sdk, ts);
  const proto = buildProtoModel(c, previousLock === undefined ? undefined : parseProtoLock(previousLock));
  return [
    { kind: 'template', path: 'types.ts', template: 'ts/types.ts.hbs', context: typesView(bound, ts), finish: 'ts' },
    { kind: 'template', path: 'validate.ts', template: 'ts/validate.ts.hbs', context: validateView(bound, ts), finish: 'ts' },
    ...(bound.transport === 'sse' || bound.transport === 'ndjson'
      ? [
          { kind: 'template', path: 'server.ts', template: 'server/http.ts.hbs', context: httpView(bound, ts), finish: 'ts' } as const,
          { kind: 'template', path: 'client.ts', template: 'client/http.ts.hbs', context: httpView(bound, ts), finish: 'ts' } as const,
        ]
      : []),
    ...conformanceTargets(bound, ts),
    ...(bound.transport === 'websocket' ? websocketTargets(bound, ts) : []),
    ...(bound.transport === 'grpc' ? grpcTargets(bound, ts) : []),
    ...runtimeTargets(RUNTIME_FILES[bound.transport], 'runtime', ts),
    {
      kind: 'template',
      path: `proto/${proto.path}`,
      template: 'proto/file.proto.hbs',
      context: { ...proto.view, header: header(c.file, c.hash, 'proto') },
      finish: 'none',
    },
    { kind: 'template', path: 'proto/buf.yaml', template: 'proto/buf.yaml.hbs', context: { header: header(c.file, c.hash, 'yaml') }, finish: 'none' },
    { kind: 'text', path: PROTO_LOCK_FILE, text: printProtoLock(proto.lock), finish: 'none' },
  ];
}
