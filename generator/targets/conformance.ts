// View models for the generated conformance suites (issue 6): `conformance/streams.ts` describes
// each stream as the contract declares it, with example params and request (and, on WebSocket,
// example client messages), and one vitest file per stream runs the checks of
// runtime/conformance.ts against the server at STREAMSPEC_BASE_URL. SSE, NDJSON and WebSocket
// have suites; gRPC has none yet.

import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { NamedType } from '../ir/types.ts';
import { tsValue } from '../render/escape.ts';
import { exampleValue } from '../schema/examples.ts';
import type { Target } from './index.ts';
import { initialCredits } from './websocket-client.ts';

export interface ConformanceStreamView {
  readonly wire: string;
  /** `alertsConformance`: the descriptor's name in streams.ts. */
  readonly descriptor: string;
  readonly file: string;
  readonly title: string;
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
  /** WebSocket only (undefined on HTTP, and then left out of streams.ts). */
  readonly direction: string | undefined;
  /** WebSocket only: the open frame's default grant. */
  readonly credits: number | undefined;
  /** A finished TS expression (escaped by tsValue): `{ params: {...}, request: {...}, messages: [...] }`. */
  readonly fixture: string;
}

const SUITE_TRANSPORTS: ReadonlySet<string> = new Set(['sse', 'ndjson', 'websocket']);

/** The conformance files for SSE, NDJSON and WebSocket; empty for gRPC until it has suites. */
export function conformanceTargets(bound: BoundContract, tsHeader: string): Target[] {
  if (!SUITE_TRANSPORTS.has(bound.transport)) return [];
  const types = new Map(bound.contract.types.map((t) => [t.key, t]));
  const streams = bound.streams.map((b) => streamView(b, bound.transport, bound.contract.file, types));
  return [
    { kind: 'template', path: 'conformance/streams.ts', template: 'conformance/streams.ts.hbs', context: { header: tsHeader, transport: bound.transport, streams }, finish: 'ts' },
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

function streamView(b: BoundStream, transport: string, file: string, types: ReadonlyMap<string, NamedType>): ConformanceStreamView {
  const s = b.stream;
  const ws = transport === 'websocket';
  const params = Object.fromEntries(s.params.map((p) => [p.name.wire, exampleValue(p.schema, types, 0)]));
  // One example of each client message type, so the server's answers to them are checked too.
  const sends = ws && s.direction !== 'server-to-client' && s.clientMessages.length > 0;
  const messages = sends ? s.clientMessages.map((m, i) => ({ type: m.name.wire, data: m.payload ? exampleValue(m.payload, types, i) : null })) : undefined;
  const fixture = { params, ...(s.request ? { request: exampleValue(s.request, types, 0) } : {}), ...(messages ? { messages } : {}) };
  return {
    wire: s.name.wire,
    descriptor: `${s.name.camel}Conformance`,
    file: `${s.name.camel}.conformance.test.ts`,
    title: `stream ${s.name.wire} (${transport}) keeps the contract in ${file}`,
    path: s.path.segments.map((g) => (g.kind === 'literal' ? { literal: g.text } : { param: g.name })),
    // WebSocket: the upgrade is a GET; the request travels in the open frame.
    method: !ws && b.requestVia === 'body' ? 'POST' : 'GET',
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
    direction: ws ? s.direction : undefined,
    credits: ws ? initialCredits(s) : undefined,
    fixture: tsValue(fixture),
  };
}
