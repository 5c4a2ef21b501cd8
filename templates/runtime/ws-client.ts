// Browser client for the WebSocket transport (docs/websocket.md): one socket per connection, an
// open frame with request, resume id, credits and headers; credit grants as the consumer pulls;
// sequence checks, idle detection, reconnect with backoff and resume; client messages within
// the server's grants. It ships in every browser bundle (budget: 3 KB gzipped with errors.ts),
// hence the terse internals. The public shapes are the HTTP client's (client.ts, types only).

import type { ClientOptions, ConnectionState, StreamCall, StreamCallOptions } from './client.js';
import { StreamError, StreamInterruptedError, StreamProtocolError } from './errors.js';

/** What the client needs of a WebSocket: the browser's, or npm `ws` in Node. */
export interface WebSocketLike {
  // `any` events: the browser's and `ws`'s event types differ, and only `data`, `code` and
  // `reason` are read.
  onopen: ((e: any) => void) | null;
  onmessage: ((e: any) => void) | null;
  onclose: ((e: any) => void) | null;
  onerror: ((e: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols: string) => WebSocketLike;

export interface WsClientOptions extends Omit<ClientOptions, 'fetch'> {
  /** `http(s)://` or `ws(s)://`; http becomes ws. */
  readonly baseUrl: string;
  /** A WebSocket implementation (npm `ws` in Node); default: the global `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
}

/** What the generated code knows about one stream. */
export interface WsTarget {
  /** Already interpolated and percent-encoded. */
  readonly path: string;
  /** The open frame's `request`; undefined when the contract has none. */
  readonly request?: unknown;
  /** Iteration ends right after a message of this type. */
  readonly terminal: string;
  /** Heartbeat timeout: silence longer than this means a dead connection (reconnect), never "finished". */
  readonly idleMs: number;
  /** false: the stream's resume strategy is none. */
  readonly resume: boolean;
  /** The window of server frames granted to the server (the open frame's `credits`). */
  readonly credits: number;
  /** The stream's error codes in contract order: close code 4000 + i is codes[i]. */
  readonly codes: readonly string[];
}

/** A stream with client messages: `send` queues within the server's grants, `close` half-closes. */
export interface WsStreamCall<M, C> extends StreamCall<M> {
  /** Sends `message` once the server has granted credit; throws after `close()` or the end. */
  send(message: C): void;
  /** No more client messages (`$end`, after those queued); iteration goes on to the terminal message. */
  close(): void;
}

export const SUBPROTOCOL = 'streamspec.v1';

// `<streamId>.<seq>`, as client.ts checks it.
const ID = /^[\w-]{22}\.([1-9]\d{0,14})$/;

export function openWsStream<M extends { type: string; id: string; data: unknown }, C extends { type: string; data: unknown } = never>(
  client: WsClientOptions,
  target: WsTarget,
  options: StreamCallOptions = {},
): WsStreamCall<M, C> {
  const { resume, idleMs, credits: W } = target;
  // Looked up now: Node before 22 has no global WebSocket, and that should fail here, not in retries.
  const WS = client.WebSocket ?? WebSocket;
  const { signal, onState } = options;
  const q: M[] = []; // delivered, not yet pulled: at most the window
  const out: C[] = []; // client messages not yet sent
  let st: ConnectionState = 'connecting';
  let started = false;
  let over = false;
  let ending = false; // close() called: `$end` goes after the queued messages
  let err: unknown;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let wake = () => {};
  let lastId = resume ? options.resumeFrom : undefined;
  let seq = +ID.exec(lastId!)?.[1]! || 0; // last sequence number delivered
  let fails = 0; // consecutive connections without a message
  let auth = 0; // 4401s since the last message: the first is retried, the second ends the call
  let dropped = 0;
  // The current connection: its socket once open, how it ends, and its counters.
  let ws: WebSocketLike | undefined;
  let end: (why: string) => void = () => {};
  let owed = 0; // frames the consumer took since the last grant
  let credit = 0; // client messages the server still allows
  let cseq = 0;
  let ended = false; // `$end` sent on this connection
  let spoke = false; // a client message or `$end` has gone out (on any connection)

  const url = client.baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '') + target.path;

  const set = (s: ConnectionState) => {
    st = s;
    onState?.(s);
  };
  // The reason becomes the retry's `why`.
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => end('idle'), idleMs);
  };
  const tx = (f: object) => ws?.send(JSON.stringify(f));
  // The window is topped up once half of it is used: `owed + outstanding + q.length` stays W.
  const owe = () => {
    if (++owed * 2 >= W && ws) tx({ type: '$credit', n: owed }), (owed = 0);
  };
  const flush = () => {
    if (!ws) return;
    for (; credit > 0 && out.length; credit--) {
      const m = out.shift()!;
      tx({ seq: ++cseq, type: m.type, data: m.data });
      spoke = true;
    }
    if (ending && !out.length && !ended) (ended = spoke = true), tx({ type: '$end' });
  };
  const stop = (e?: unknown) => {
    if (over) return;
    over = true;
    err = e;
    // A browser's close() takes only 1000 or 3000-4999, so every end of ours is a normal close.
    ws?.close(1000);
    end('');
    clearTimeout(idle); // also the backoff sleep
    signal?.removeEventListener('abort', onAbort);
    set('closed');
    wake();
  };
  // Abort is prompt: whatever is queued is discarded and the next pull throws the reason.
  function onAbort() {
    q.length = 0;
    stop(signal!.reason);
  }

  const onFrame = (f: any) => {
    const t = f?.type;
    const d = f?.data;
    if (t == '$heartbeat') return;
    // `>>> 0` keeps a whole number from 0 to 2^32-1 as it is.
    if (t == '$credit' && f.n >>> 0 === f.n) return (credit += f.n), flush();
    const m = ID.exec(f?.id);
    const n = m ? +m[1]! : 0;
    const bad = typeof t != 'string' || (t[0] == '$' && t != '$error') || (t == '$error' && (typeof d?.code != 'string' || typeof d.message != 'string'));
    // An `$error` without seq answers the open frame (an invalid request); the close follows.
    if (!bad && t == '$error' && f.seq == null && !f.id) throw new StreamError(d.code, d.message);
    if (bad || !m || m[0] !== f.id || f.seq !== n) throw new StreamProtocolError(`malformed ${t} frame ${f?.id}`);
    // A frame at or below `seq` is a replay: dropped, and its credit given back.
    if (n <= seq) return owe();
    // The successor of the last frame, of the same instance, or a protocol error (never silent loss).
    if (n > seq + 1 || f.id.slice(0, 22) != (lastId ?? f.id).slice(0, 22)) throw new StreamProtocolError(`${f.id} after ${lastId}`);
    seq = n;
    lastId = f.id;
    fails = auth = 0;
    if (f.dropped >>> 0 === f.dropped) dropped += f.dropped;
    if (t == '$error') throw new StreamError(d.code, d.message, { retryable: d.retryable === true });
    q.push({ type: t, id: f.id, data: d } as M);
    t == target.terminal ? stop() : wake();
  };

  // Resolves with a reason to retry, after stopping on anything that is not worth a retry.
  const connect = (h: object) =>
    new Promise<string>((done) => {
      const s: WebSocketLike = new WS(url, SUBPROTOCOL);
      end = (why) => {
        s.onopen = s.onmessage = s.onclose = null;
        if (ws == s) ws = undefined;
        // (A socket we give up on, idle or never opened, is closed without waiting for it.)
        s.close();
        done(why);
      };
      s.onerror = () => {}; // a close event follows (and `ws` throws on an error without a listener)
      s.onopen = () => {
        ws = s;
        credit = cseq = owed = 0;
        ended = false;
        set('open');
        tx({ type: '$open', request: target.request, resume: resume ? lastId : undefined, credits: W - q.length, headers: h });
        flush();
      };
      s.onmessage = (e) => {
        arm();
        try {
          onFrame(JSON.parse(e.data));
        } catch (x) {
          stop(/^Stream/.test((x as Error).name) ? x : new StreamProtocolError('bad frame'));
        }
      };
      s.onclose = ({ code, reason }: { code: number; reason: string }) => {
        const c = /^([A-Z][A-Z\d_]*): ([^]*)/.exec(reason);
        if (code == 1000) stop(new StreamInterruptedError(`closed before ${target.terminal}`));
        // 1011 naming one of the stream's codes (INTERNAL, usually) is the stream's error, not a
        // crash to retry: a resume would only be answered with it again. A first 4401 is retried
        // with headers asked for again (a token may have expired); a second one in a row is not.
        else if ((code > 3999 && code < 5000 && code != 4408 && (code != 4401 || auth++)) || (code == 1011 && c && target.codes.includes(c[1]!)))
          stop(
            new StreamError(
              c ? c[1]! : code == 4400 ? 'INVALID_REQUEST' : code == 4410 ? 'RESUME_EXPIRED' : (target.codes[code - 4000] ?? 'WS_' + code),
              c ? c[2]! : reason,
            ),
          );
        else if (code > 1001 && code < 1010 && code != 1004 && code != 1005 && code != 1006)
          stop(new StreamProtocolError(`closed ${code} ${reason}`));
        end('closed ' + code);
      };
      arm(); // a server that never answers is as dead as one that goes quiet
    });

  const loop = async () => {
    while (!over) {
      let why;
      try {
        why = await connect(Object.fromEntries(new Headers(await client.headers?.())));
      } catch (e) {
        why = '' + e; // the headers function failed: worth another try
      }
      clearTimeout(idle);
      if (over) return;
      // Without resume a new connection is a new stream: after a message either way (ours went
      // out on the dead socket, or theirs arrived), starting over would lose or repeat them.
      if (!resume && (seq || spoke)) stop(new StreamInterruptedError(`${why}, cannot resume`));
      else if (++fails >= (client.maxAttempts ?? 10)) stop(new StreamInterruptedError(`${fails} attempts: ${why}`));
      else {
        set('reconnecting');
        // Exponential backoff with full jitter, from 250 ms up to the cap; it sleeps on `idle`,
        // so stop() cancels it and the loop never wakes.
        await new Promise((r) => (idle = setTimeout(r, Math.random() * Math.min(client.maxRetryMs ?? 3e4, 250 * 2 ** (fails - 1)))));
      }
    }
  };
  // Connects lazily, on the first pull or send.
  const go = () => {
    if (!started && !over) (started = true), set('connecting'), loop().catch(stop);
  };

  // A generator gives `return()` (a `break` in for-await) and queued `next()` calls for free.
  async function* pull() {
    try {
      go();
      while (q.length || !over)
        if (q.length) {
          const m = q.shift()!;
          if (!over) owe();
          yield m;
        } else await new Promise<void>((r) => (wake = r));
      if (err) throw err;
    } finally {
      stop();
    }
  }

  signal?.aborted ? onAbort() : signal?.addEventListener('abort', onAbort);
  return {
    [Symbol.asyncIterator]: pull,
    get state() {
      return st;
    },
    get lastId() {
      return lastId;
    },
    get dropped() {
      return dropped;
    },
    send(m) {
      if (ending || over) throw new Error('stream closed');
      out.push(m);
      go();
      flush();
    },
    close() {
      ending = true;
      flush();
    },
  };
}
