// What every streaming transport's server shares (SSE, NDJSON, WebSocket): the message shape
// handlers yield, stream instance ids, frame ids (`<streamId>.<seq>`), the interface the wire
// encoders implement, and the checks every router runs on a stream's path and handler output.

import { randomBytes } from 'node:crypto';
import { StreamError } from './errors.js';
import type { Issue } from './validation.js';

/** A message as a handler yields it (and returns it, for the terminal message). */
export interface Message {
  readonly type: string;
  readonly data?: unknown;
}

/** One numbered frame, ready to encode. */
export interface Frame {
  readonly seq: number;
  /** frameId(streamId, seq): base64url and digits, which encoders write as they are, unescaped. */
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  /** Messages discarded since the previous frame (lossy strategies); 0 otherwise. */
  readonly dropped: number;
}

/** Turns frames into wire text; one implementation per transport. */
export interface FrameEncoder {
  readonly contentType: string;
  /** Written once when the response opens (SSE: `retry:`); may be empty. */
  preamble(retryMs: number): string;
  frame(f: Frame): string;
  heartbeat(): string;
}

/** 128 random bits as 22 base64url characters: unguessable, so an id is also a capability. */
export function newStreamId(): string {
  return randomBytes(16).toString('base64url');
}

export function frameId(streamId: string, seq: number): string {
  return `${streamId}.${seq}`;
}

const FRAME_ID = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,15})$/;

/** Splits `<streamId>.<seq>`; undefined when `id` is not one the runtime could have issued. */
export function parseFrameId(id: string): { readonly streamId: string; readonly seq: number } | undefined {
  const m = FRAME_ID.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { streamId: m[1]!, seq } : undefined;
}

/** JSON for a payload; a message without one travels as `null`. */
export function payloadJson(data: unknown): string {
  return data === undefined ? 'null' : JSON.stringify(data);
}

/** Sets `key` as an own property even when it is `__proto__`. */
export function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// The last type written and its JSON: a stream repeats a few types, so most frames skip the stringify.
let lastType = '';
let lastTypeJson = '""';

/** A numbered frame as one JSON object (NDJSON line, WebSocket text frame); keys in a fixed order. */
export function frameJson(f: Frame): string {
  if (f.type !== lastType) lastTypeJson = JSON.stringify((lastType = f.type));
  // The id needs no escaping: frameId() builds it from base64url and digits.
  return `{"seq":${f.seq},"id":"${f.id}","type":${lastTypeJson},"data":${payloadJson(f.data)}` + (f.dropped > 0 ? `,"dropped":${f.dropped}}` : '}');
}

// ---------------------------------------------------------------------------------------------
// What every transport's router knows about a stream, and the checks they all run the same way.

/** The transport-neutral part of a stream descriptor; each router's descriptor extends it. */
export interface StreamShape {
  /** The stream's wire name. */
  readonly name: string;
  /** `'/v1/conversations/', { param: 'conversationId' }, '/completion'` */
  readonly path: readonly (string | { readonly param: string })[];
  readonly validateParams: (v: unknown) => Issue[];
  readonly validateRequest?: (v: unknown) => Issue[];
  /** Checks `{ type, data }` as the handler yielded or returned it. */
  readonly validateMessage: (m: unknown) => Issue[];
  /** The termination message's name. */
  readonly terminal: string;
  /** `codes`: the contract's codes, then the built-ins. */
  readonly errors: { readonly mode: 'fail-fast' | 'in-band' | 'out-of-band'; readonly message?: string; readonly codes: readonly string[] };
  /** Absent: the stream cannot be resumed. */
  readonly resume?: { readonly messages: number; readonly seconds?: number };
  readonly heartbeatMs: number;
}

/** A message that breaks the contract: the stream ends with INTERNAL and this is reported. */
export class ContractViolation extends Error {
  constructor(stream: string, message: string) {
    super(`stream ${JSON.stringify(stream)}: ${message}`);
    this.name = 'ContractViolation';
  }
}

export interface PathMatcher {
  readonly pattern: RegExp;
  /** Parameter names in path order. */
  readonly params: readonly string[];
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function compilePath(path: StreamShape['path']): PathMatcher {
  const params: string[] = [];
  const source = path
    .map((part) => {
      if (typeof part === 'string') return escapeRegExp(part);
      params.push(part.param);
      return '([^/]+)';
    })
    .join('');
  return { pattern: new RegExp(`^${source}$`), params };
}

/** The percent-decoded path parameters of a match; a bad escape is an issue, not a throw. */
export function decodeParams(matcher: PathMatcher, m: RegExpExecArray, issues: Issue[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  matcher.params.forEach((name, i) => {
    try {
      put(params, name, decodeURIComponent(m[i + 1]!));
    } catch {
      issues.push({ path: `params.${name}`, message: 'invalid percent-encoding' });
    }
  });
  return params;
}

export const issueText = (issues: readonly Issue[]): string => issues.map((i) => `${i.path}: ${i.message}`).join('; ');

/** What a handler yielded (`terminal`: returned), checked against the contract; throws ContractViolation. */
export function checkMessage(shape: StreamShape, m: unknown, terminal: boolean, validateOutput: boolean): Message {
  if (typeof m !== 'object' || m === null || typeof (m as Message).type !== 'string')
    throw new ContractViolation(shape.name, `the handler ${terminal ? 'returned' : 'yielded'} ${JSON.stringify(m)}, not a { type, data } message`);
  const msg = m as Message;
  if (terminal && msg.type !== shape.terminal)
    throw new ContractViolation(shape.name, `the handler returned ${JSON.stringify(msg.type)}; the terminal message is ${JSON.stringify(shape.terminal)}`);
  if (!terminal && msg.type === shape.terminal)
    throw new ContractViolation(shape.name, `the handler yielded the terminal message ${JSON.stringify(shape.terminal)}; return it instead`);
  if (validateOutput) {
    const issues = shape.validateMessage(msg);
    if (issues.length > 0) throw new ContractViolation(shape.name, `message ${JSON.stringify(msg.type)} breaks the contract: ${issueText(issues)}`);
  }
  return msg;
}

/** The error payload a handler's throw becomes, as every transport sends it. */
export interface ErrorData {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * A StreamError with one of the stream's codes keeps its code; anything else is a bug on the
 * server: `report`ed, and only `INTERNAL` reaches the client, no detail.
 */
export function errorData(error: unknown, codes: readonly string[], report: (error: unknown) => void): ErrorData {
  if (error instanceof StreamError && codes.includes(error.code)) return { code: error.code, message: error.message, retryable: error.retryable };
  report(error);
  return { code: 'INTERNAL', message: 'internal error', retryable: false };
}

/** Calls a handler; a throw or a non-iterator becomes an iterator that fails on the first pull, so the pump reports it once. */
export function startHandler<C>(
  shape: StreamShape,
  handler: (ctx: C) => AsyncIterator<Message, Message | void>,
  ctx: C,
): AsyncIterator<Message, Message | void> {
  try {
    const source = handler(ctx);
    if (typeof source?.next !== 'function') throw new ContractViolation(shape.name, 'the handler did not return an async iterator');
    return source;
  } catch (error) {
    return { next: () => Promise.reject(error) };
  }
}

/** What a handler gets on every transport (each router adds its own, and says what its headers are). */
export interface BaseHandlerContext {
  readonly params: any;
  readonly request: any;
  /** Aborted when the client goes away, the call is taken over by a resume, or the router closes. */
  readonly signal: AbortSignal;
  /** On a resumed call: the seq of the last message already produced; yield what comes after it. */
  readonly resumeFrom: number | undefined;
  readonly headers: Headers;
  /** What `authenticate` returned for this call; undefined for an anonymous caller. */
  readonly principal: unknown;
}

/** The router options every transport takes (each router adds its own). */
export interface CommonRouterOptions {
  /** Origins a browser may call from; default: same origin only. */
  readonly cors?: { readonly origin: readonly string[] | '*'; readonly credentials?: boolean };
  /** Default console.error. A handler that crashes is reported here and never crashes the process. */
  readonly onError?: (error: unknown, stream: string) => void;
  /** Default true: a message that breaks the contract ends the stream with INTERNAL (and is reported). */
  readonly validateOutput?: boolean;
  /** Bound on retained stream instances (default 10000). */
  readonly maxInstances?: number;
  /** Clock for retention by time; for tests. */
  readonly now?: () => number;
  /**
   * Default false. Serves the conformance control endpoint (runtime/control.ts) that the
   * generated conformance suites use to check backpressure and abandoned consumers, as plain HTTP
   * GETs on the server's port. It reveals counts per stream instance: for test servers only.
   */
  readonly conformanceControl?: boolean;
}
