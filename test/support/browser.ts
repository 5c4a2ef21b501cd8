// Shared pieces of the tests against real peers: Chromium (Debian's, driven by playwright-core),
// a node:http server on 127.0.0.1 that records what reached it and also serves the test page and
// bundles from the same origin, esbuild bundling for the browser, and a connection cutter that
// fails a response mid-frame the way a dropped network does.

import { existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './tools.ts';

/** Where CI's `apt-get install chromium` puts it; CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Headless Chromium with a fresh profile (playwright makes a temporary one per launch). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install chromium (as .ci/run does), or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
}

/** A request that reached the app (not the test page or bundles), with the status it got. */
export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Set when the response has finished or its connection closed. */
  status?: number;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>`: the page, the bundles and the app share it, so no CORS. */
  readonly origin: string;
  /** The test page, blank: tests run their code in it with `page.evaluate`. */
  readonly page: string;
  /** App requests in arrival order. */
  readonly requests: SeenRequest[];
  /** Serves `body` at `path` (under /__test/) with content type `type`. */
  file(path: string, body: string | Uint8Array, type: string): void;
  /** The node:http server itself, for WebSocket upgrades (a router's `upgrade(server)`). */
  readonly http: Server;
  close(): Promise<void>;
}

const PAGE = '<!doctype html><meta charset="utf-8"><title>streamspec test page</title>';

/** Serves `app` on 127.0.0.1, port 0, plus the files under /__test/. */
export async function startServer(app: RequestListener): Promise<TestServer> {
  const files = new Map<string, { body: string | Uint8Array; type: string }>([['/__test/', { body: PAGE, type: 'text/html; charset=utf-8' }]]);
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    // Chromium asks for a favicon with the page: not the app's business.
    if (req.url === '/favicon.ico') return void res.writeHead(404).end();
    const file = files.get(req.url ?? '');
    if (file) {
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
      return;
    }
    const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    requests.push(seen);
    res.on('close', () => (seen.status = res.statusCode));
    app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    page: `${origin}/__test/`,
    requests,
    http: server,
    file: (path, body, type) => void files.set(path, { body, type }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Bundles `source` (an ES module; relative imports resolve from the repo root) for the browser,
 * as esbuild would for a user's app: one ESM file.
 */
export async function bundleForBrowser(source: string): Promise<string> {
  const out = await build({
    stdin: { contents: source, resolveDir: ROOT, loader: 'ts', sourcefile: 'browser-entry.ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

/** Where to cut a response, given every byte sent so far (latin1, so index = byte offset). */
export type CutRule = (sent: string) => number | undefined;

/**
 * Cuts inside the frame with sequence number `seq`: its first bytes are sent, the rest never is.
 * Knows both framings: SSE (`id: <streamId>.<seq>` line) and NDJSON (`{"seq":<seq>,`).
 */
export function cutInFrame(seq: number): CutRule {
  const start = new RegExp(`(^|\\n)(id: [\\w-]{22}\\.${seq}\\n|\\{"seq":${seq},)`);
  return (sent) => {
    const m = start.exec(sent);
    // A few bytes past the frame's first line (or key): the frame is started, never finished.
    return m ? m.index + m[0].length + 3 : undefined;
  };
}

/** How long the bytes before a cut stay in flight before the connection is dropped. */
export const CUT_DELAY_MS = 250;

/**
 * Wraps `app` so the first request that `match` accepts has its response cut where `rule` says:
 * the bytes before the cut are flushed, then (after CUT_DELAY_MS) the socket is destroyed: the
 * chunked body never ends, as when a network drops. Later requests pass through untouched.
 */
export function cutFirstResponse(app: RequestListener, rule: CutRule, match: (req: IncomingMessage) => boolean = () => true): RequestListener {
  let done = false;
  return (req, res) => {
    if (!done && match(req)) {
      done = true;
      interceptWrites(res, rule);
    }
    app(req, res);
  };
}

type Callback = (error?: Error | null) => void;

// Patches `res.write` / `res.end` to count the bytes going out and stop them at the cut.
function interceptWrites(res: ServerResponse, rule: CutRule): void {
  const write = res.write.bind(res) as (chunk: Uint8Array, cb?: Callback) => boolean;
  const end = res.end.bind(res) as (chunk?: Uint8Array, cb?: () => void) => ServerResponse;
  let sent = Buffer.alloc(0);
  let cut = false;
  // true when `bytes` reach the cut: what comes before it is flushed, then the socket destroyed.
  const reachesCut = (bytes: Buffer): boolean => {
    if (cut) return true;
    const all = Buffer.concat([sent, bytes]);
    const at = rule(all.toString('latin1'));
    if (at === undefined || at >= all.length) {
      sent = all;
      return false;
    }
    cut = true;
    // The bytes before the cut get time to reach the client's code first: a body that errors
    // while data is still queued loses that data (a stream's error discards its queue), so an
    // instant cut would test nothing but the first connect.
    const destroy = () => setTimeout(() => res.socket?.destroy(), CUT_DELAY_MS);
    if (at > sent.length) write(all.subarray(sent.length, at), destroy);
    else destroy();
    return true;
  };
  const toBytes = (chunk: unknown, encoding: unknown) =>
    typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array);
  const callback = (args: unknown[]) => args.findLast((a) => typeof a === 'function') as Callback | undefined;

  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    const bytes = toBytes(chunk, rest[0]);
    // After the cut, writes are swallowed: the socket is gone and the router sees it close.
    return reachesCut(bytes) ? true : write(bytes, callback(rest));
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    const data = typeof args[0] === 'function' ? undefined : args[0];
    const bytes = data == null ? undefined : toBytes(data, args[1]);
    if (cut || (bytes && reachesCut(bytes))) return res;
    return end(bytes, callback(args) as (() => void) | undefined);
  }) as typeof res.end;
}

/** Resolves after `ms`; for bounded waits that prove something did NOT happen. */
export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms until it is true or `ms` passes; returns its last answer. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; !check() && Date.now() < until; ) await pause(20);
  return check();
}

/**
 * Texts that SSE or NDJSON framing, JSON or a decoder could mangle (line ends of every kind, a
 * blank line, field-like and comment-like text, U+2028, BOM, NUL, a lone surrogate, non-ASCII):
 * a handler yields them, and every peer must see them unchanged.
 */
export const HOSTILE_TEXTS: readonly string[] = [
  'line\nfeed',
  'carriage\rreturn',
  'crlf\r\n\r\nthen a blank line',
  'data: injected\n\nid: 1\nevent: done\n\n',
  ': a comment',
  'separators \u2028 \u2029',
  '\uFEFFbom',
  'nul \0 here',
  'lone \uD800 surrogate',
  'é 😀 ☃',
  '"quotes" \\ \'single\' `back` ${x}',
  '',
];
