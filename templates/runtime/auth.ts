// Authentication for every transport's router: the hook a user gives `createRouter`, how its
// answer becomes a principal (or a rejection), the check that a stream whose contract says
// `auth: required` is never served without a hook, and the per-principal limit on concurrent
// streams. Transport-neutral: the HTTP router maps the outcomes to 401/403/429; WebSocket and
// gRPC map the same outcomes to their close codes and statuses.

import { StreamError } from './errors.js';

/** `auth` in the contract; absent: `required` when the router has an `authenticate` hook, else `none`. */
export type AuthMode = 'required' | 'optional' | 'none';

/** What the hook sees of a request that opens (or resumes) a stream. */
export interface AuthRequest {
  /** The stream's wire name. */
  readonly stream: string;
  readonly headers: Headers;
  /** The `Cookie` header, parsed (the first value of a repeated name wins). */
  readonly cookies: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The peer's IP address; undefined when the server does not say (a fetch handler without it). */
  readonly remoteAddress: string | undefined;
  /** The id resumed from, on a resume or reconnect: the hook runs again for every one. */
  readonly resumeFrom: string | undefined;
}

/**
 * Returns the principal, or undefined when the request carries no credentials (401). Throws
 * `StreamError('UNAUTHENTICATED' | 'PERMISSION_DENIED', message)` to reject with 401 / 403;
 * any other throw is a server fault (reported; the client gets INTERNAL and may retry).
 */
export type Authenticate<P> = (request: AuthRequest) => P | undefined | Promise<P | undefined>;

export interface AuthOptions<P> {
  readonly authenticate?: Authenticate<P>;
  /**
   * The principal's stable id: a resume is only served to the principal that opened the stream,
   * and concurrent streams are counted by it. Default: the principal's own `id` (string or number).
   */
  readonly principalId?: (principal: P) => string;
  /** Streams one principal may have open at once (default 16); one more is refused (429). */
  readonly maxStreamsPerPrincipal?: number;
}

export const DEFAULT_MAX_STREAMS_PER_PRINCIPAL = 16;

/** The codes a rejection carries; each transport has its own status for them. */
export type AuthCode = 'UNAUTHENTICATED' | 'PERMISSION_DENIED';

export type AuthOutcome<P> =
  /** `id` undefined: an anonymous caller (a stream with `auth: optional` or `none`, or no hook). */
  | { readonly kind: 'ok'; readonly principal: P | undefined; readonly id: string | undefined }
  | { readonly kind: 'denied'; readonly code: AuthCode; readonly message: string };

/**
 * Throws when a stream requires authentication and the router has no hook: serving it anyway
 * would hand every caller's stream to anyone, so this fails at `createRouter`, not per request.
 */
export function checkAuthSetup(streams: readonly { readonly name: string; readonly auth?: AuthMode }[], options: AuthOptions<unknown>): void {
  if (options.authenticate) return;
  const needing = streams.filter((s) => s.auth === 'required').map((s) => JSON.stringify(s.name));
  if (needing.length === 0) return;
  const which = needing.length === 1 ? `stream ${needing[0]} requires` : `streams ${needing.join(', ')} require`;
  throw new Error(
    `streamspec: ${which} authentication (auth: required in the contract), but createRouter was given no authenticate hook. ` +
      'Pass createRouter(handlers, { authenticate: async (req) => principal }), or change the contract to auth: optional or none.',
  );
}

/** The `Cookie` header as name -> value; values are percent-decoded when they decode. */
export function parseCookies(header: string | null): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length > 1) value = value.slice(1, -1);
    if (name in out) continue;
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      out[name] = value;
    }
  }
  return out;
}

function idOf<P>(principal: P, options: AuthOptions<P>): string {
  if (options.principalId) {
    // An empty or missing id would make a signed-in caller anonymous (resume checks, the limit).
    const id: unknown = options.principalId(principal);
    if (typeof id === 'string' && id !== '') return id;
    throw new TypeError('streamspec: principalId(p) must return a non-empty string');
  }
  const id = (principal as { id?: unknown } | null)?.id;
  if (typeof id === 'string' || typeof id === 'number') return String(id);
  throw new TypeError('streamspec: the principal authenticate returned has no string or number `id`; return { id, ... } or pass a principalId(p) option');
}

/**
 * Runs the hook for a stream with the given mode. A StreamError with an auth code is a rejection;
 * any other throw propagates (the router reports it as a server fault).
 */
export async function authenticate<P>(mode: AuthMode | undefined, options: AuthOptions<P>, request: AuthRequest): Promise<AuthOutcome<P>> {
  const hook = options.authenticate;
  // Without a hook nothing can be required (checkAuthSetup saw to that), and `none` never asks.
  if (!hook || mode === 'none') return { kind: 'ok', principal: undefined, id: undefined };
  let principal: P | undefined;
  try {
    principal = await hook(request);
  } catch (error) {
    // By name too: a StreamError from another contract's copy of this runtime is another class.
    const e = error as StreamError;
    if ((error instanceof StreamError || e?.name === 'StreamError') && (e.code === 'UNAUTHENTICATED' || e.code === 'PERMISSION_DENIED'))
      return { kind: 'denied', code: e.code, message: String(e.message) };
    throw error;
  }
  if (principal === undefined || principal === null) {
    return mode === 'optional'
      ? { kind: 'ok', principal: undefined, id: undefined }
      : { kind: 'denied', code: 'UNAUTHENTICATED', message: `stream ${request.stream} requires authentication` };
  }
  return { kind: 'ok', principal, id: idOf(principal, options) };
}

export interface StreamLimiter {
  /**
   * Counts a connection of `instance` for `principal`; undefined when the principal already has
   * `max` other instances open. A second connection to an instance it already holds (a resume
   * taking over a half-open one) never counts twice. Anonymous callers are not counted.
   */
  acquire(principal: string | undefined, instance: string): (() => void) | undefined;
  /** Open instances of a principal. */
  count(principal: string): number;
}

export function createStreamLimiter(max: number): StreamLimiter {
  // principal -> instance -> connections (more than one only while a takeover is under way)
  const open = new Map<string, Map<string, number>>();
  return {
    acquire(principal, instance) {
      if (principal === undefined) return () => {};
      let mine = open.get(principal);
      if (!mine?.has(instance) && (mine?.size ?? 0) >= max) return undefined;
      if (!mine) open.set(principal, (mine = new Map()));
      mine.set(instance, (mine.get(instance) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const n = mine!.get(instance)! - 1;
        if (n > 0) mine!.set(instance, n);
        else mine!.delete(instance);
        if (mine!.size === 0 && open.get(principal) === mine) open.delete(principal);
      };
    },
    count: (principal) => open.get(principal)?.size ?? 0,
  };
}
