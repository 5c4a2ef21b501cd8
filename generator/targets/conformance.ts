// View models for the generated conformance suites (issue 6): `conformance/streams.ts` describes
// each stream as the contract declares it, with example params and request (and, on WebSocket,
// example client messages), and one vitest file per stream runs the checks of
// runtime/conformance.ts against the server at STREAMSPEC_BASE_URL, for every transport (gRPC
// through the reader of runtime/conformance-grpc.ts, over the stream's rpc).

import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { NamedType } from '../ir/types.ts';
import { tsValue } from '../render/escape.ts';
import { exampleValue } from '../schema/examples.ts';
import { grpcView } from './grpc.ts';
import type { Target } from './index.ts';
import { initialCredits, sendsClientMessages } from './websocket-client.ts';

export interface ConformanceStreamView {
  readonly wire: string;
  /** `alertsConformance`: the descriptor's name in streams.ts. */
  readonly descriptor: string;
  readonly file: string;
  readonly path: readonly { readonly literal?: string; readonly param?: string }[];
  readonly method: 'GET' | 'POST';
  readonly terminal: string;
  readonly validateMessage: string;
  readonly validateParams: string;
  readonly validateRequest: string;
  readonly hasRequest: boolean;
  readonly errorMode: string;
  readonly codes: readonly string[];
  readonly backpressureKind: string;
  readonly buffer: number;
  readonly lossy: boolean;
  readonly resume: boolean;
  readonly heartbeatMs: number;
  /** WebSocket and gRPC (undefined on HTTP, and then left out of streams.ts). */
  readonly direction: string | undefined;
  /** WebSocket only: the open frame's default grant. */
  readonly credits: number | undefined;
  /** gRPC only: a finished TS expression, the rpc's wire plan for the reader (`{ rpc, wire, ... }`). */
  readonly grpcTarget: string | undefined;
  /** A finished TS expression (escaped by tsValue): `{ params: {...}, request: {...}, messages: [...] }`. */
  readonly fixture: string;
}

/** The conformance files of a contract: `streams.ts` and one suite per stream. */
export function conformanceTargets(bound: BoundContract, tsHeader: string): Target[] {
  const types = new Map(bound.contract.types.map((t) => [t.key, t]));
  // gRPC: the reader needs the rpc's descriptor (the `_pb.ts`) and the codec plan.
  const grpc = bound.transport === 'grpc' ? grpcView(bound, tsHeader) : undefined;
  const streams = bound.streams.map((b, i) => streamView(b, bound.transport, types, grpc?.streams[i]?.targetLiteral));
  const proto = grpc && { module: `.${grpc.pbModule}`, fileExport: grpc.fileExport, plan: grpc.planLiteral };
  return [
    {
      kind: 'template',
      path: 'conformance/streams.ts',
      template: 'conformance/streams.ts.hbs',
      context: { header: tsHeader, transport: bound.transport, streams, grpc: proto },
      finish: 'ts',
    },
    { kind: 'template', path: 'conformance/suite.ts', template: 'conformance/suite.ts.hbs', context: { header: tsHeader, streams }, finish: 'ts' },
    ...streams.map(
      (s): Target => ({
        kind: 'template',
        path: `conformance/${s.file}`,
        template: 'conformance/stream.conformance.test.ts.hbs',
        context: { header: tsHeader, stream: s },
        finish: 'ts',
      }),
    ),
  ];
}

function streamView(b: BoundStream, transport: string, types: ReadonlyMap<string, NamedType>, grpcTarget: string | undefined): ConformanceStreamView {
  const s = b.stream;
  const ws = transport === 'websocket';
  const grpc = transport === 'grpc';
  const params = Object.fromEntries(s.params.map((p) => [p.name.wire, exampleValue(p.schema, types, 0)]));
  // One example of each client message type, so the server's answers to them are checked too.
  const sends = (ws || grpc) && sendsClientMessages(s);
  const messages = sends ? s.clientMessages.map((m, i) => ({ type: m.name.wire, data: m.payload ? exampleValue(m.payload, types, i) : null })) : undefined;
  const fixture = { params, ...(s.request ? { request: exampleValue(s.request, types, 0) } : {}), ...(messages ? { messages } : {}) };
  return {
    wire: s.name.wire,
    descriptor: `${s.name.camel}Conformance`,
    file: `${s.name.camel}.conformance.test.ts`,
    // gRPC: the rpc, not a path, names the stream.
    path: grpc ? [] : s.path.segments.map((g) => (g.kind === 'literal' ? { literal: g.text } : { param: g.name })),
    // WebSocket: the upgrade is a GET; the request travels in the open frame. gRPC: always POST.
    method: grpc || (!ws && b.requestVia === 'body') ? 'POST' : 'GET',
    terminal: s.termination.message.wire,
    validateMessage: `v.validate${s.name.pascal}Message`,
    validateParams: `v.validate${s.name.pascal}Params`,
    validateRequest: `v.validate${s.name.pascal}Request`,
    hasRequest: s.request !== undefined,
    errorMode: s.errors.mode,
    codes: s.errors.codes.map((c) => c.wire),
    backpressureKind: s.backpressure.kind,
    buffer: s.backpressure.buffer,
    lossy: s.lossy,
    resume: s.resume.kind !== 'none',
    heartbeatMs: s.heartbeat.intervalMs,
    direction: ws || grpc ? s.direction : undefined,
    credits: ws ? initialCredits(s) : undefined,
    grpcTarget,
    fixture: tsValue(fixture),
  };
}
