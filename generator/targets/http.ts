// View models for the HTTP streaming transports (SSE, NDJSON): the generated `server.ts`
// (handler types and a router over runtime/http-router.ts) and `client.ts` (typed functions over
// runtime/client.ts). Every decision is made here; the templates lay it out.

import { deref, type BoundContract, type BoundStream } from '../ir/bind.ts';
import type { NamedType, SchemaNode } from '../ir/types.ts';
import { names } from '../ir/names.ts';

type QueryType = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'number[]' | 'integer[]' | 'boolean[]';

/** A path piece: a literal (already a finished TS string literal) or a parameter's wire name. */
export interface PathPart {
  readonly literal?: string;
  readonly param?: string;
}

export interface HttpStreamView {
  readonly wire: string;
  readonly doc: string;
  /** camelCase: handler and client method name. */
  readonly method: string;
  /** `openCompletion`: the tree-shakeable client function. */
  readonly openFn: string;
  readonly descriptor: string;
  readonly contextType: string;
  readonly yieldType: string;
  readonly endType: string;
  readonly messageType: string;
  readonly paramsType: string;
  readonly requestType: string;
  /** The request's type name as types.ts exports it, when there is a request. */
  readonly requestTypeName: string | undefined;
  readonly hasRequest: boolean;
  readonly endOptional: boolean;
  readonly terminal: string;
  readonly httpMethod: 'GET' | 'POST';
  readonly query: readonly { readonly wire: string; readonly type: QueryType }[];
  readonly hasQuery: boolean;
  readonly path: readonly PathPart[];
  readonly validateParams: string;
  readonly validateRequest: string;
  readonly validateMessage: string;
  readonly errorMode: 'fail-fast' | 'in-band';
  readonly errorMessage: string | undefined;
  readonly codes: readonly string[];
  readonly backpressureKind: string;
  readonly buffer: number;
  readonly intervalMs: number | undefined;
  readonly resume: boolean;
  readonly retentionMessages: number;
  readonly retentionSeconds: number | undefined;
  readonly heartbeatMs: number;
  readonly idleMs: number;
}

export interface HttpView {
  readonly header: string;
  readonly transport: 'sse' | 'ndjson';
  readonly handlersType: string;
  readonly clientType: string;
  readonly streams: readonly HttpStreamView[];
}

export function httpView(bound: BoundContract, header: string): HttpView {
  const { contract } = bound;
  if (bound.transport !== 'sse' && bound.transport !== 'ndjson') throw new Error(`internal: httpView for ${bound.transport}`);
  const types = new Map(contract.types.map((t) => [t.key, t]));
  // Contract types are used through `import type * as T`, so these local names meet none of them.
  const pascal = names(contract.package.segments.find((s) => !/^v\d/.test(s)) ?? contract.package.segments[0]!).pascal;
  return {
    header,
    transport: bound.transport,
    handlersType: `${pascal}Handlers`,
    clientType: `${pascal}Client`,
    streams: bound.streams.map((b) => streamView(b, types)),
  };
}

function streamView(b: BoundStream, types: ReadonlyMap<string, NamedType>): HttpStreamView {
  const s = b.stream;
  const n = s.typeNames;
  // The builder makes every request a named type (inline ones get `<Stream>Request`).
  const requestTypeName = s.request?.kind === 'ref' ? types.get(s.request.target)!.name.type : undefined;
  const requestType = requestTypeName ? `T.${requestTypeName}` : 'undefined';
  const terminalHasPayload = s.termination.payload !== undefined;
  const query = b.requestVia === 'query' && s.request ? queryTypes(s.request, types) : [];
  return {
    wire: s.name.wire,
    doc: [s.summary?.trim(), s.description?.trim()].filter(Boolean).join('\n\n') || `Stream ${s.name.wire}.`,
    method: s.name.camel,
    openFn: `open${s.name.pascal}`,
    descriptor: `${s.name.camel}Stream`,
    contextType: `${s.name.pascal}Context`,
    yieldType: `${s.name.pascal}Yield`,
    endType: `${s.name.pascal}Terminal`,
    messageType: `T.${n.message}`,
    paramsType: `T.${n.params}`,
    requestType,
    requestTypeName,
    hasRequest: s.request !== undefined,
    endOptional: !terminalHasPayload,
    terminal: s.termination.message.wire,
    httpMethod: b.requestVia === 'body' ? 'POST' : 'GET',
    query,
    hasQuery: query.length > 0,
    path: s.path.segments.map((g) => (g.kind === 'literal' ? { literal: g.text } : { param: g.name })),
    validateParams: `v.validate${s.name.pascal}Params`,
    validateRequest: `v.validate${s.name.pascal}Request`,
    validateMessage: `v.validate${s.name.pascal}Message`,
    errorMode: s.errors.mode === 'in-band' ? 'in-band' : 'fail-fast',
    errorMessage: s.errors.message?.wire,
    codes: s.errors.codes.map((c) => c.wire),
    backpressureKind: s.backpressure.kind,
    buffer: s.backpressure.buffer,
    intervalMs: s.backpressure.kind === 'sample' ? s.backpressure.intervalMs : undefined,
    resume: s.resume.kind !== 'none',
    retentionMessages: s.resume.kind === 'none' ? 0 : s.resume.retention.messages,
    retentionSeconds: s.resume.kind === 'none' ? undefined : s.resume.retention.seconds,
    heartbeatMs: s.heartbeat.intervalMs,
    idleMs: s.heartbeat.timeoutMs,
  };
}

/** How each property of a flat request is parsed from the query string. */
function queryTypes(node: SchemaNode, types: ReadonlyMap<string, NamedType>): { wire: string; type: QueryType }[] {
  const obj = deref(node, types);
  if (obj.kind !== 'object') return [];
  return obj.properties.map((p) => {
    const v = deref(p.schema, types);
    const item = v.kind === 'array' ? deref(v.items, types) : v;
    const base: QueryType =
      item.kind === 'integer'
        ? 'integer'
        : item.kind === 'number'
          ? 'number'
          : item.kind === 'boolean' || (item.kind === 'literal' && typeof item.value === 'boolean')
            ? 'boolean'
            : item.kind === 'literal' && typeof item.value === 'number'
              ? 'number'
              : 'string';
    return { wire: p.name.wire, type: v.kind === 'array' ? (`${base}[]` as QueryType) : base };
  });
}
