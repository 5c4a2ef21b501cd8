import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchExchange, nodeExchange, type Exchange } from './http-exchange.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A node:http server whose exchanges the test drives; resolves each one as it arrives. */
async function nodeServer() {
  const arrivals: ((ex: Exchange) => void)[] = [];
  const server = http.createServer((req, res) => arrivals.shift()?.(nodeExchange(req, res)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { base, next: () => new Promise<Exchange>((r) => arrivals.push(r)) };
}

describe('fetchExchange', () => {
  it('reads the body within the limit, and refuses one over it', async () => {
    const small = fetchExchange(new Request('http://x/a?b=1', { method: 'POST', body: 'hello' })).exchange;
    expect(small.url.pathname).toBe('/a');
    expect(await small.readBody(5)).toEqual({ kind: 'ok', text: 'hello' });
    const big = fetchExchange(new Request('http://x/', { method: 'POST', body: new Blob(['x'.repeat(11)]) })).exchange;
    expect(await big.readBody(10)).toEqual({ kind: 'too-large' });
  });

  it('reports a full body until the reader takes from it, then drained() resolves', async () => {
    const { exchange, response } = fetchExchange(new Request('http://x/'));
    const sink = exchange.open({ 'content-type': 'text/plain' });
    const res = await response;
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(sink.write('a'.repeat(1000))).toBe(true);
    expect(sink.write('b'.repeat(64 * 1024))).toBe(false);
    let drained = false;
    const waiting = sink.drained().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    await waiting;
    expect(drained).toBe(true);
    sink.end();
    expect((await reader.read()).done).toBe(true);
  });

  it('aborts its signal when the body is cancelled or the request aborted', async () => {
    const one = fetchExchange(new Request('http://x/'));
    one.exchange.open({});
    await (await one.response).body!.cancel();
    expect(one.exchange.signal.aborted).toBe(true);

    const ac = new AbortController();
    const two = fetchExchange(new Request('http://x/', { signal: ac.signal }));
    expect(two.exchange.signal.aborted).toBe(false);
    ac.abort();
    expect(two.exchange.signal.aborted).toBe(true);
  });

  it('gives 204 no body', async () => {
    const { exchange, response } = fetchExchange(new Request('http://x/'));
    exchange.reply(204, { allow: 'GET' }, 'ignored');
    const res = await response;
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });
});

describe('nodeExchange', () => {
  it('reads a body, copies headers, and flushes stream headers at once', async () => {
    const s = await nodeServer();
    const arrived = s.next();
    const pending = fetch(`${s.base}/p?q=1`, { method: 'POST', body: 'hi', headers: { 'x-a': '1' } });
    const ex = await arrived;
    expect(ex.method).toBe('POST');
    expect(ex.url.pathname + ex.url.search).toBe('/p?q=1');
    expect(ex.headers.get('x-a')).toBe('1');
    expect(await ex.readBody(10)).toEqual({ kind: 'ok', text: 'hi' });
    const sink = ex.open({ 'content-type': 'text/event-stream' });
    // The response headers arrive before any body byte is written.
    const res = await pending;
    expect(res.status).toBe(200);
    sink.write('data: 1\n\n');
    sink.end();
    expect(await res.text()).toBe('data: 1\n\n');
  });

  it('answers 413 for an oversized body and still lets the client read it', async () => {
    const s = await nodeServer();
    const arrived = s.next();
    const pending = fetch(s.base, { method: 'POST', body: 'x'.repeat(100_000) });
    const ex = await arrived;
    expect(await ex.readBody(1000)).toEqual({ kind: 'too-large' });
    ex.reply(413, { 'content-type': 'text/plain', connection: 'close' }, 'too big');
    const res = await pending;
    expect(res.status).toBe(413);
    expect(await res.text()).toBe('too big');
  });

  it('aborts its signal and releases drained() when the client goes away', async () => {
    const s = await nodeServer();
    const arrived = s.next();
    const ac = new AbortController();
    const pending = fetch(s.base, { signal: ac.signal });
    const ex = await arrived;
    const sink = ex.open({});
    await pending;
    // Fill the socket so drained() has something to wait for.
    for (let i = 0; i < 10_000 && sink.write('x'.repeat(64 * 1024)); i++);
    const drained = sink.drained();
    ac.abort();
    await drained;
    await new Promise((r) => setTimeout(r, 20));
    expect(ex.signal.aborted).toBe(true);
    expect(sink.write('more')).toBe(false);
  });
});
