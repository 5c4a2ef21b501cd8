// Shared by the test/http-*.test.ts robustness suites: a node:http server on 127.0.0.1 that keeps
// hold of its sockets and responses (so a test can kill them), bounded waits, and generating a
// contract for another transport into test/.work.

import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { cli, ROOT, workDir } from './support/tools.ts';

export { ROOT };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Listening {
  readonly base: string;
  readonly port: number;
  readonly server: Server;
  /** Open sockets, oldest first. */
  readonly sockets: Set<Socket>;
  /** Every request so far, with its response, in arrival order. */
  readonly exchanges: {
    readonly req: IncomingMessage;
    readonly res: ServerResponse;
  }[];
  close(): Promise<void>;
}

export async function listen(listener: RequestListener): Promise<Listening> {
  const sockets = new Set<Socket>();
  const exchanges: { req: IncomingMessage; res: ServerResponse }[] = [];
  const server = createServer((req, res) => {
    exchanges.push({ req, res });
    listener(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    server,
    sockets,
    exchanges,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** `p`, or a rejection naming `what` once `ms` have passed: a hang fails the test instead of stalling it. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = performance.now() + ms; !cond(); await sleep(5))
    if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
}

/** Every message of a stream call (or the error it ended with), within `ms`. */
export async function collect<M>(call: AsyncIterable<M>, ms: number, each?: (m: M) => unknown): Promise<{ got: M[]; err?: unknown }> {
  const got: M[] = [];
  try {
    await within(
      (async () => {
        for await (const m of call) {
          got.push(m);
          await each?.(m);
        }
      })(),
      ms,
      'stream',
    );
    return { got };
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('stream: no result')) throw err;
    return { got, err };
  }
}

/**
 * Generates `spec` (relative to the repo) for `transport` into a fresh folder under test/.work
 * and returns the folder; its server.ts and client.ts are imported dynamically by the caller.
 */
export function generateInto(spec: string, transport: 'sse' | 'ndjson', name: string): string {
  const out = workDir(name);
  const run = cli(['generate', spec, '--transport', transport, '--out', out], ROOT);
  if (run.status !== 0) throw new Error(`streamspec generate failed (${run.status}):\n${run.stderr}`);
  return out;
}

export const fileUrl = (dir: string, file: string) => new URL(`file://${join(dir, file)}`).href;

/** The generated server and client in `dir`, typed as the committed output they mirror. */
export interface GeneratedCode<S, C> {
  readonly server: S;
  readonly client: C;
}
export async function loadGenerated<S, C>(dir: string): Promise<GeneratedCode<S, C>> {
  return { server: (await import(fileUrl(dir, 'server.ts'))) as S, client: (await import(fileUrl(dir, 'client.ts'))) as C };
}

export const CONVERSATION = '5f0c2e1a-7b7e-4c1d-9a53-2f4b8e9d6c10';
