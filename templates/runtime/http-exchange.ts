// One request/response pair, the same to the router whether it came from node:http or from a
// fetch-style server (Request -> Response). The router is written once against this interface.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PumpSink } from './stream-pump.js';

/** A response body being streamed. */
export interface StreamSink extends PumpSink {
  end(): void;
}

export type Body = { readonly kind: 'ok'; readonly text: string } | { readonly kind: 'too-large' } | { readonly kind: 'gone' };

export interface Exchange {
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  /** The peer's IP address, when the server knows it. */
  readonly remoteAddress: string | undefined;
  /** Fires when the client goes away (socket closed, request aborted, body cancelled). */
  readonly signal: AbortSignal;
  /** The request body as UTF-8 text, unless it is longer than `limit` bytes. */
  readBody(limit: number): Promise<Body>;
  /** A complete response. */
  reply(status: number, headers: Record<string, string>, body?: string): void;
  /** Starts a streamed 200 response; its headers reach the client at once. */
  open(headers: Record<string, string>): StreamSink;
}

function urlOf(target: string): URL {
  // Origin-form (`/path?q`) is what clients send; the host is irrelevant to routing. Prefixing
  // also keeps `//evil/x` a path instead of a host.
  try {
    return new URL(target.startsWith('/') ? `http://localhost${target}` : target);
  } catch {
    return new URL('http://localhost/');
  }
}

export function nodeExchange(req: IncomingMessage, res: ServerResponse): Exchange {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // Node accepted a header the fetch Headers class rejects; the router never needs it.
    }
  }
  const abort = new AbortController();
  // 'close' also follows a normal end, when nothing is listening any more.
  res.on('close', () => abort.abort());
  const gone = () => res.destroyed || res.writableEnded;

  return {
    method: req.method ?? 'GET',
    url: urlOf(req.url ?? '/'),
    headers,
    remoteAddress: req.socket.remoteAddress,
    signal: abort.signal,
    readBody(limit) {
      const declared = Number(req.headers['content-length']);
      return new Promise<Body>((resolve) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let over = Number.isFinite(declared) && declared > limit;
        // An oversized body is still read and discarded, so the 413 can be written and read.
        req.on('data', (chunk: Buffer) => {
          if (over) return;
          size += chunk.length;
          if (size > limit) {
            over = true;
            chunks.length = 0;
            resolve({ kind: 'too-large' });
          } else chunks.push(chunk);
        });
        req.on('end', () => resolve(over ? { kind: 'too-large' } : { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') }));
        req.on('error', () => resolve({ kind: 'gone' }));
        req.on('close', () => resolve({ kind: 'gone' }));
        if (over) resolve({ kind: 'too-large' });
      });
    },
    reply(status, h, body) {
      if (gone()) return;
      if (res.headersSent) return void res.end();
      res.writeHead(status, h);
      res.end(body);
    },
    open(h) {
      res.writeHead(200, h);
      res.flushHeaders();
      return {
        write: (chunk) => !gone() && res.write(chunk),
        drained: () =>
          new Promise<void>((resolve) => {
            if (gone() || !res.writableNeedDrain) return resolve();
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          }),
        end: () => {
          if (!gone()) res.end();
        },
      };
    },
  };
}

/** Bytes a fetch response body holds before `write` reports it full (as node's highWaterMark does). */
const FETCH_HIGH_WATER_MARK = 64 * 1024;

/** `remoteAddress`: a Request does not carry the peer's address; the server that made it may. */
export function fetchExchange(req: Request, remoteAddress?: string): { readonly exchange: Exchange; readonly response: Promise<Response> } {
  let respond!: (r: Response) => void;
  const response = new Promise<Response>((r) => (respond = r));
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  if (req.signal.aborted) onAbort();
  else req.signal.addEventListener('abort', onAbort, { once: true });

  const exchange: Exchange = {
    method: req.method,
    url: urlOf(req.url),
    headers: req.headers,
    remoteAddress,
    signal: abort.signal,
    async readBody(limit) {
      if (Number(req.headers.get('content-length')) > limit) return { kind: 'too-large' };
      if (!req.body) return { kind: 'ok', text: '' };
      const reader = req.body.getReader();
      const chunks: Uint8Array[] = [];
      let size = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > limit) {
            await reader.cancel().catch(() => {});
            return { kind: 'too-large' };
          }
          chunks.push(value);
        }
      } catch {
        return { kind: 'gone' };
      }
      return { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') };
    },
    reply(status, headers, body) {
      respond(new Response(status === 204 || status === 304 ? null : (body ?? null), { status, headers }));
    },
    open(headers) {
      const encoder = new TextEncoder();
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      let closed = false;
      let waiter: (() => void) | undefined;
      const release = () => {
        const w = waiter;
        waiter = undefined;
        w?.();
      };
      const body = new ReadableStream<Uint8Array>(
        {
          start: (c) => void (controller = c),
          // Called when the reader has taken enough that the queue is below the mark again.
          pull: release,
          cancel: () => {
            closed = true;
            abort.abort();
            release();
          },
        },
        { highWaterMark: FETCH_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
      );
      respond(new Response(body, { status: 200, headers }));
      return {
        write(chunk) {
          if (closed) return false;
          controller.enqueue(encoder.encode(chunk));
          return (controller.desiredSize ?? 0) > 0;
        },
        drained: () =>
          new Promise<void>((resolve) => {
            if (closed || (controller.desiredSize ?? 0) > 0) return resolve();
            const previous = waiter;
            waiter = () => {
              previous?.();
              resolve();
            };
          }),
        end() {
          if (closed) return;
          closed = true;
          controller.close();
          release();
        },
      };
    },
  };
  return { exchange, response };
}
