// Drives a client source (templates/runtime/sse-source.ts, ndjson-source.ts) on bytes given in
// chunks: alone, to see what it hands the client, or through the client, to see what it refuses.

import { openStream, type Source } from '../../templates/runtime/client.ts';

const enc = new TextEncoder();

/** A body delivering exactly these chunks (strings, or raw bytes to split characters). */
export const body = (chunks: (string | Uint8Array)[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(typeof x === 'string' ? enc.encode(x) : x);
      c.close();
    },
  });

/**
 * What the source hands the client for these chunks: each frame's arguments and `retry` times, in
 * order, and how many times it called `alive`.
 */
export async function readWith(source: Source, chunks: (string | Uint8Array)[]) {
  const frames: unknown[] = [];
  let alive = 0;
  await source.read(
    body(chunks),
    (...f) => frames.push(f),
    async () => void alive++,
    (ms) => frames.push({ ms }),
  );
  return { frames, alive };
}

/** The client's error for a body that is one frame, read by this source: its checks and the client's. */
export async function refusedBy(source: Source, text: string) {
  const client = { baseUrl: 'http://x', fetch: async () => new Response(text), maxAttempts: 1 };
  try {
    for await (const _ of openStream(client, {}, '/s', 'done', 60_000, true, source));
  } catch (e) {
    return e;
  }
}
