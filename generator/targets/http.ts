// View models for the HTTP streaming transports (SSE, NDJSON): the generated `server.ts`
// (handler types and a router over runtime/http-router.ts) and `client.ts` (typed functions over
// runtime/client.ts). Every decision is made here; the templates lay it out.

import { deref, type BoundContract, type BoundStream } from '../ir/bind.ts';
import type { NamedType, SchemaNode } from '../ir/types.ts';
import { contractNames, streamView, typesByKey, type StreamView } from './stream-view.ts';

// The WebSocket client view reads the shared pieces from here too.

type QueryType = 'string' | 'number' | 'integer' | 'boolean' | 'string[]' | 'number[]' | 'integer[]' | 'boolean[]';

export interface HttpStreamView extends StreamView {
  readonly httpMethod: 'GET' | 'POST';
  /** The client passes a method only for POST (GET is fetch's default). */
  readonly post: boolean;
  readonly query: readonly { readonly wire: string; readonly type: QueryType }[];
  readonly hasQuery: boolean;
  readonly errorMode: 'fail-fast' | 'in-band';
}

export interface HttpView {
  readonly header: string;
  readonly transport: 'sse' | 'ndjson';
  readonly handlersType: string;
  readonly clientType: string;
  readonly streams: readonly HttpStreamView[];
}

export function httpView(bound: BoundContract, header: string): HttpView {
  if (bound.transport !== 'sse' && bound.transport !== 'ndjson') throw new Error(`internal: httpView for ${bound.transport}`);
  const types = typesByKey(bound);
  return { header, transport: bound.transport, ...contractNames(bound), streams: bound.streams.map((b) => httpStreamView(b, types)) };
}

function httpStreamView(b: BoundStream, types: ReadonlyMap<string, NamedType>): HttpStreamView {
  const s = b.stream;
  const query = b.requestVia === 'query' && s.request ? queryTypes(s.request, types) : [];
  return {
    ...streamView(b, types),
    httpMethod: b.requestVia === 'body' ? 'POST' : 'GET',
    post: b.requestVia === 'body',
    query,
    hasQuery: query.length > 0,
    errorMode: s.errors.mode === 'in-band' ? 'in-band' : 'fail-fast',
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
