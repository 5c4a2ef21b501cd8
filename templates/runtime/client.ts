// Browser client for HTTP streaming (SSE, NDJSON): one fetch per connection, reconnect with
// backoff, resume, sequence checks and idle detection, per docs/http-streaming.md. It ships in
// every browser bundle (budget: 2.5 KB gzipped with sse-source.ts), hence the terse internals.

import { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.js';

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ClientOptions {
  readonly baseUrl: string;
  /** Asked again at every (re)connect, so short-lived tokens stay fresh. */
  readonly headers?: () => HeadersInit | Promise<HeadersInit>;
  readonly fetch?: typeof fetch;
  /** Backoff cap in ms; default 30000. */
  readonly maxRetryMs?: number;
  /** Consecutive connects without a message before giving up; default 10. */
  readonly maxAttempts?: number;
}

export interface StreamCallOptions {
  readonly signal?: AbortSignal;
  /** An id from an earlier session: the first connect resumes from it. */
  readonly resumeFrom?: string;
  readonly onState?: (state: ConnectionState) => void;
}

/** One per transport: sse-source.ts exports `sse`, ndjson-source.ts exports `ndjson`. */
export interface Source {
  readonly accept: string;
  readonly resumeHeader: string;
  /**
   * Reads the body, calling `frame` for each frame, `alive` after any bytes (heartbeats
   * included) and `retry` with a server's reconnect delay (SSE `retry:`); awaits `alive()` before
   * reading on (that is the backpressure). Resolves at end of body. Throws StreamProtocolError on
   * a frame it cannot read; `frame` throws it for a frame that breaks the protocol. No signal: the
   * client aborts the fetch, and the body then errors.
   */
  read(body: ReadableStream<Uint8Array>, frame: FrameSink, alive: () => Promise<void>, retry: (ms: number) => void): Promise<void>;
}

/**
 * A frame as a source read it, taken apart: positional, and no object for it, as this runs for
 * every message. `type` `$error` is a fail-fast error, `$dropped` the count of messages the
 * server discarded before the next one (`data`: `{ count }`, lossy streams). `n`: the seq the id
 * holds, 0 or NaN for an id of another form; left out, it is read from the id with ID. A source
 * whose frames also carry the seq (ndjson-source.ts) reads the id itself, and passes 0 when the
 * two differ.
 */
export type FrameSink = (type: unknown, id: unknown, data: unknown, n?: number) => void;

type Writable<T> = { -readonly [K in keyof T]: T[K] };

export interface StreamCall<M> extends AsyncIterable<M> {
  readonly state: ConnectionState;
  /** The id of the last message delivered: pass it as `resumeFrom` to continue in a later session. */
  readonly lastId: string | undefined;
  /** How many messages the server discarded (lossy streams). */
  readonly dropped: number;
}

// `<streamId>.<seq>`: 22 base64url characters, then a sequence number from 1 (at most 15
// digits, so always a safe integer). Tested, not matched: no match array for every message.
export const ID = /^[\w-]{22}\.[1-9]\d{0,14}$/;

/**
 * One call of a stream, as the generated client describes it. Positional, not an object: the
 * property names would ship in every generated function of the bundle.
 * - `options.request`: GET: a flat request, sent as query parameters (arrays repeated, undefined
 *   and null skipped); POST: the JSON body.
 * - `path`: already interpolated and percent-encoded.
 * - `terminal`: iteration ends right after a message of this type.
 * - `idleMs`: heartbeat timeout; silence longer than this is a dead connection (reconnect), never "finished".
 * - `resume`: false when the stream's resume strategy is none.
 * - `method`: 'POST', or left out for a GET (most streams): last, so that a GET passes nothing.
 */
export function openStream<M extends { type: string; id: string; data: unknown }>(
  client: ClientOptions,
  options: StreamCallOptions & { readonly request?: unknown },
  path: string,
  terminal: string,
  idleMs: number,
  resume: boolean,
  src: Source,
  method?: 'POST',
): StreamCall<M> {
  const { signal, onState, request } = options;
  const q: M[] = []; // delivered, not yet pulled: at most the frames of one body chunk
  let over = false;
  let err: unknown;
  let ac: AbortController | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  // Whoever waits (the consumer for a message, the body read for the consumer) re-checks on wake.
  // The body read waits while `q` is not empty, the consumer while it is: who fills or empties
  // it wakes the other. Waiters share one promise, so a wake reaches every next() waiting too.
  let wake = () => {};
  let lastId = resume ? options.resumeFrom : undefined;
  // The call is a plain object its fields are kept current on, not getters (fewer bytes), and its
  // own async iterator (next() below).
  const call: Writable<StreamCall<M>> & AsyncIterator<M> = {
    [Symbol.asyncIterator]: () => call,
    next,
    return: async () => (stop(), { done: true }) as IteratorResult<M>,
    state: 'connecting',
    lastId,
    dropped: 0,
  };
  // The last sequence number delivered. A resumeFrom that is no id of ours needs no check here:
  // the server refuses it (RESUME_EXPIRED), or the first frame's stream id does not match `pre`.
  let seq = +lastId?.slice(23)! || 0;
  // `<streamId>.` of this instance, from the first id seen: every later id must start with it.
  let pre = lastId?.slice(0, 23);
  let base = 250; // backoff base (ms): a first retry within 250 ms; the server's `retry:` replaces it
  let fails = 0; // consecutive connections without a message
  let auth = 0; // 401s since the last message: the first is retried, the second ends the call

  const qs = new URLSearchParams();
  let body: string | undefined;
  // (append converts each value to a string.)
  if (method) body = JSON.stringify(request);
  else for (const k in request as any) for (const x of [(request as any)[k]].flat()) x != null && qs.append(k, x);
  const url = client.baseUrl.replace(/\/+$/, '') + path + (`${qs}` ? '?' + qs : '');

  let waiting: Promise<void> | undefined;
  const wait = () => (waiting ||= new Promise((r) => (wake = () => r((waiting = undefined)))));
  const set = (s: ConnectionState) => {
    call.state = s;
    onState?.(s);
  };
  const arm = () => {
    clearTimeout(idle);
    // The reason becomes the retry's `why` as it is: a string says it as well as an Error.
    if (!over) idle = setTimeout(() => ac?.abort('idle'), idleMs);
  };
  // Bytes came: the source waits on this before reading on, until the consumer has taken every
  // message delivered, so memory stays bounded; the idle timer is off while the consumer is behind.
  const alive = async () => {
    clearTimeout(idle);
    while (q.length && !over) await wait();
    arm();
  };
  const stop = (e?: unknown) => {
    if (over) return;
    over = true;
    err = e;
    ac?.abort();
    clearTimeout(idle); // also the backoff sleep, which would keep Node alive after an abort
    signal?.removeEventListener('abort', onAbort);
    set('closed');
    wake();
  };
  // Abort is prompt: whatever is queued is discarded and the next pull throws the reason.
  function onAbort() {
    q.length = 0;
    stop(signal!.reason);
  }

  // Checks a frame and delivers it; both sources call it, so ids, sequence numbers and reserved
  // payloads are checked in one place. (A non-string id is tested as its string form: an array
  // holding one id passes, but its slice(23) is [], so n is 0 and the frame is refused.)
  const onFrame = (type: unknown, id: any, data: any, n: number = ID.test(id) ? +id.slice(23) : 0) => {
    if (over) return;
    // `>>> 0` keeps a whole number from 0 to 2^32-1 as it is; a string, fraction or negative changes.
    if (type == '$dropped' && data?.count >>> 0 === data?.count) return void (call.dropped += data.count);
    // An error travels as a message of type `$error` (as on the wire): one shape less in the bundle.
    // (`> '$'`: not empty, not reserved; a contract's message names start with a letter.)
    if (typeof type == 'string' && n && (type[0]! > '$' || (type == '$error' && typeof data?.code == 'string' && typeof data.message == 'string'))) {
      if (n <= seq) return; // a replay after a resume: dropped
      // The next frame must be the last one's successor: a seq too far is a gap, another stream id
      // another instance's frame, and both would be silent loss. (indexOf is 0 for an id that
      // starts with `pre`: it cost a third of startsWith, 26 against 74 ns, and this runs for
      // every message.)
      if (n == seq + 1 && !id.indexOf((pre ??= id.slice(0, 23)))) {
        seq = n;
        call.lastId = lastId = id;
        fails = auth = 0;
        // StreamError reads `retryable` from the payload as it is.
        if (type == '$error') throw new StreamError(data.code, data.message, data);
        // M's fields, plus `seq`. Only the first message queued wakes the consumer: calling a
        // resolver again for every message cost more than all the checks above (0.3 µs a message).
        q.push({ seq: n, id, type, data } as unknown as M) < 2 && wake();
        return void (type == terminal && stop());
      }
    }
    throw new StreamProtocolError('bad frame ' + id);
  };

  const loop = async () => {
    set('connecting');
    while (!over) {
      let why = 'no terminal message';
      const c = (ac = new AbortController());
      try {
        arm(); // a server that never answers is as dead as one that goes quiet
        const h = new Headers(await client.headers?.());
        h.set('accept', src.accept);
        // Without resume there is no reconnect after a message, so no lastId here either.
        if (lastId) h.set(src.resumeHeader, lastId);
        if (body) h.set('content-type', 'application/json');
        const f = client.fetch ?? fetch; // called unbound: `window.fetch` rejects any other `this`
        const res = await f(url, { method, headers: h, body, signal: c.signal }); // (no method: GET)
        const code = res.status;
        if (code == 204) throw new StreamInterruptedError(why);
        if (code > 299) {
          why = 'HTTP ' + code; // 5xx: retried
          // A first 401 is retried too, with headers asked for again (a token may have expired);
          // a second 401 in a row, and any other 3xx or 4xx, ends the call.
          if (code < 500 && (code != 401 || auth++)) {
            const j = await res.json().catch(() => 0);
            throw new StreamError(
              code == 410 ? 'RESUME_EXPIRED' : typeof j.code == 'string' ? j.code : 'HTTP_' + code,
              j.message ?? res.statusText,
            );
          }
        } else {
          set('open');
          await src.read(res.body!, onFrame, alive, (ms) => (base = ms));
        }
      } catch (e) {
        // Anything but our own errors (network, idle timeout, 5xx) is worth another try; ours are
        // told by name (StreamError, StreamInterruptedError, StreamProtocolError), which is shorter.
        /^Stream/.test((e as Error)?.name) ? stop(e) : (why = '' + e);
      } finally {
        c.abort();
        clearTimeout(idle);
      }
      if (over) return;
      if (!resume && seq) stop(new StreamInterruptedError(`${why}, cannot resume`));
      else if (++fails >= (client.maxAttempts ?? 10)) stop(new StreamInterruptedError(`${fails} attempts: ${why}`));
      else {
        set('reconnecting');
        // Exponential backoff with full jitter, from the server's `retry:` up to the cap.
        // It sleeps on `idle`, so stop() cancels it; the loop then never wakes, and that is its end.
        await new Promise((r) => (idle = setTimeout(r, Math.random() * Math.min(client.maxRetryMs ?? 3e4, base * 2 ** (fails - 1)))));
      }
    }
  };

  // Not an async generator: its `yield` awaits the value and resumes a suspended frame, which
  // cost 0.06-0.09 µs a message, a tenth of the NDJSON client's work. Concurrent next() calls
  // wake together and take messages in the order they were made.
  async function next(): Promise<IteratorResult<M>> {
    if (!ac && !over) loop().catch(stop); // connect lazily, on the first pull
    // Queued messages are delivered after the end too (the terminal one is queued when the call
    // stops).
    for (; !q.length; await wait())
      if (over) {
        const e = err;
        err = 0; // thrown once: later calls are done, as for a generator that threw
        if (e) throw e;
        return { done: true } as IteratorResult<M>;
      }
    const value = q.shift()!;
    // The last message is taken: the body read goes on (it holds one chunk's messages at most).
    if (!q.length) wake();
    return { value };
  }

  signal?.aborted ? onAbort() : signal?.addEventListener('abort', onAbort);
  return call;
}
