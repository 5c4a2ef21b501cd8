// What every transport's server and client templates know about a stream, computed once from the
// bound IR: type names, validator names, the path, errors, backpressure, resume and heartbeat.
// Each transport's view (http.ts, websocket.ts) adds only what is its own.

import type { BoundContract, BoundStream } from '../ir/bind.ts';
import type { Contract, NamedType } from '../ir/types.ts';
import { names } from '../ir/names.ts';

/** A path piece: a literal (already a finished TS string literal) or a parameter's wire name. */
export interface PathPart {
  readonly literal?: string;
  readonly param?: string;
}

export interface StreamView {
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
  readonly path: readonly PathPart[];
  readonly validateParams: string;
  readonly validateRequest: string;
  readonly validateMessage: string;
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
  /** The contract's `auth` for the runtime's descriptor; undefined: not said (the router decides). */
  readonly auth: 'required' | 'optional' | 'none' | undefined;
  /** `ctx.principal`'s type, in terms of the router's type parameter `P`. */
  readonly principalType: 'P' | 'P | undefined' | 'undefined';
}

/** Names the whole contract's server and client types share. */
export interface ContractNames {
  readonly handlersType: string;
  readonly clientType: string;
}

/** `Assistant` for package `assistant.v1`: the stem of the contract's own type names. */
export function contractPascal(contract: Contract): string {
  const segments = contract.package.segments;
  return names(segments.find((s) => !/^v\d/.test(s)) ?? segments[0]!).pascal;
}

export function contractNames(bound: BoundContract): ContractNames {
  // Contract types are used through `import type * as T`, so these local names meet none of them.
  const pascal = contractPascal(bound.contract);
  return { handlersType: `${pascal}Handlers`, clientType: `${pascal}Client` };
}

export const typesByKey = (bound: BoundContract): ReadonlyMap<string, NamedType> => new Map(bound.contract.types.map((t) => [t.key, t]));

export function streamView(b: BoundStream, types: ReadonlyMap<string, NamedType>): StreamView {
  const s = b.stream;
  const n = s.typeNames;
  // The builder makes every request a named type (inline ones get `<Stream>Request`).
  const requestTypeName = s.request?.kind === 'ref' ? types.get(s.request.target)!.name.type : undefined;
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
    requestType: requestTypeName ? `T.${requestTypeName}` : 'undefined',
    requestTypeName,
    hasRequest: s.request !== undefined,
    endOptional: s.termination.payload === undefined,
    terminal: s.termination.message.wire,
    path: s.path.segments.map((g) => (g.kind === 'literal' ? { literal: g.text } : { param: g.name })),
    validateParams: `v.validate${s.name.pascal}Params`,
    validateRequest: `v.validate${s.name.pascal}Request`,
    validateMessage: `v.validate${s.name.pascal}Message`,
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
    auth: s.auth.kind === 'default' ? undefined : s.auth.kind,
    // Unsaid auth is required whenever there is a hook to give a principal (P); without one, P is unknown.
    principalType: s.auth.kind === 'optional' ? 'P | undefined' : s.auth.kind === 'none' ? 'undefined' : 'P',
  };
}
