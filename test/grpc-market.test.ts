// The generated gRPC server for test/fixtures/grpc/market.yaml (one stream per direction), on
// one 127.0.0.1 port, driven by peers nobody here wrote (@grpc/grpc-js with proto-loader on the
// generated .proto, `buf curl` over Connect, gRPC and gRPC-web) and by the generated Node client.

import { execFile } from 'node:child_process';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { within } from './http-harness.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';

type Any = any;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = performance.now() + ms; !cond(); await sleep(5)) if (performance.now() > end) throw new Error(`${what}: not within ${ms} ms`);
}

/** What the handlers saw, for assertions on the server side. */
const seen = { produced: 0, stopped: [] as { stream: string; aborted: boolean }[] };

function handlers(server: Any) {
  const { StreamError } = server;
  return {
    async *quotes({ params, request, signal, resumeFrom = 0 }: Any) {
      try {
        if (params.symbol === 'NONE') throw new StreamError('SYMBOL_NOT_FOUND', 'no such symbol');
        if (params.symbol === 'LIMIT') throw new StreamError('RATE_LIMITED', 'slow down', { retryable: true });
        if (params.symbol === 'BUG') throw new Error('a bug with secrets in it');
        // SLOW: one quote every 50 ms, forever; BIG: 10 KB notes as fast as they are pulled.
        const n = params.symbol === 'SLOW' || params.symbol === 'BIG' ? Infinity : request.count;
        for (let i = resumeFrom; i < n; i++) {
          if (params.symbol === 'SLOW') await sleep(50);
          seen.produced = i + 1;
          if (params.symbol === 'BIG') yield { type: 'note', data: 'x'.repeat(10_000) };
          else yield { type: 'quote', data: { price: 100.25 + i, side: request.side ?? 'buy', at: 1_700_000_000_000 + i, ...(i === 0 ? { venues: [['XNAS', 'XNYS'], ['BATS']] } : {}) } };
        }
        yield { type: 'note', data: 'done' };
        return { type: 'end', data: { sent: request.count } };
      } finally {
        seen.stopped.push({ stream: 'quotes', aborted: signal.aborted });
      }
    },
    async *orders({ request, messages }: Any) {
      if (request.trader === 'nobody') throw new StreamError('UNKNOWN_TRADER', 'who is that?');
      let accepted = 0;
      let total = 0;
      for await (const m of messages) {
        if (m.type !== 'order') continue;
        accepted++;
        total += m.data.quantity;
        if (total > 1000) throw new StreamError('QUOTA_EXCEEDED', 'more than 1000 units', { retryable: true });
      }
      return { type: 'receipt', data: { accepted, total } };
    },
    async *desk({ messages }: Any) {
      for await (const m of messages) {
        if (m.data.side === 'sell') yield { type: 'problem', data: { code: 'FORBIDDEN', message: `no selling ${m.data.id}` } };
        else yield { type: 'fill', data: m.data };
      }
      return { type: 'closed' };
    },
  };
}

let out: string;
let protoDir: string;
let server: Server;
let port: number;
let router: Any;
let clientMod: Any;
let market: Any;
const errors: unknown[] = [];

beforeAll(async () => {
  out = join(workDir('grpc-market'), 'out');
  const r = await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT });
  expect(r.ok).toBe(true);
  protoDir = join(out, 'proto');
  const serverMod = await import(`file://${join(out, 'server.ts')}`);
  clientMod = await import(`file://${join(out, 'client.ts')}`);
  router = serverMod.createRouter(handlers(serverMod), { onError: (e: unknown) => errors.push(e) });
  server = serverMod.createH2cServer(router.node);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const def = protoLoader.loadSync('market/v1/market.proto', { includeDirs: [protoDir], keepCase: false, longs: String, enums: String, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as Any;
  market = new pkg.market.v1.MarketService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  market?.close();
  router?.close();
  await new Promise((r) => server?.close(r));
  removeWorkDirs();
});

/** Every message and the final status of a grpc-js response stream. */
function drain(call: Any): Promise<{ data: Any[]; status: Any }> {
  const data: Any[] = [];
  return within(
    new Promise((resolve) => {
      call.on('data', (d: Any) => data.push(d));
      call.on('error', () => {});
      call.on('status', (status: Any) => resolve({ data, status }));
    }),
    5000,
    'grpc-js call',
  );
}

describe('@grpc/grpc-js against the generated server', () => {
  it('server-streaming: numbered oneof events, the terminal message, then OK', async () => {
    const { data, status } = await drain(market.quotes({ symbol: 'ABC', count: 2, side: 'SIDE_SELL' }));
    expect(status.code).toBe(grpc.status.OK);
    expect(data.map((d) => [d.seq, d.event])).toEqual([
      ['1', 'quote'],
      ['2', 'quote'],
      ['3', 'note'],
      ['4', 'end'],
    ]);
    expect(data[0].quote).toEqual({ price: 100.25, side: 'SIDE_SELL', at: '1700000000000', venues: [{ values: ['XNAS', 'XNYS'] }, { values: ['BATS'] }] });
    expect(data[2].note).toEqual({ value: 'done' });
    expect(data[3].end).toEqual({ sent: '2' });
  });

  it.each([
    ['SYMBOL_NOT_FOUND', 'NONE', grpc.status.NOT_FOUND, 'no such symbol'],
    ['RATE_LIMITED', 'LIMIT', grpc.status.RESOURCE_EXHAUSTED, 'slow down'],
    ['a crash (INTERNAL, no detail)', 'BUG', grpc.status.INTERNAL, 'internal error'],
    ['an invalid request', 'abc', grpc.status.INVALID_ARGUMENT, 'params.symbol: must match the pattern "^[A-Z]{1,5}$"'],
  ])('server-streaming error %s: status %s with the contract code in the trailers', async (_name, symbol, code, details) => {
    const { data, status } = await drain(market.quotes({ symbol, count: 1 }));
    expect(data).toEqual([]);
    expect(status.code).toBe(code);
    // grpc-js leaves the percent-encoding of grpc-message partly in place.
    expect(decodeURIComponent(status.details)).toBe(details);
    const contractCode = status.metadata.get('streamspec-error-code')[0];
    expect(contractCode).toBe(symbol === 'BUG' ? 'INTERNAL' : symbol === 'abc' ? 'INVALID_REQUEST' : symbol === 'NONE' ? 'SYMBOL_NOT_FOUND' : 'RATE_LIMITED');
    expect(status.metadata.get('streamspec-retryable')).toEqual(symbol === 'LIMIT' ? ['true'] : []);
  });

  const orders = (first: Any, rest: Any[]) =>
    within(
      new Promise<{ err: Any; res: Any }>((resolve) => {
        const call = market.orders((err: Any, res: Any) => resolve({ err, res }));
        call.write(first);
        for (const m of rest) call.write(m);
        call.end();
      }),
      5000,
      'orders',
    );

  it('client-streaming: open, then messages; one response with the terminal message', async () => {
    const { err, res } = await orders({ open: { trader: 't1' } }, [
      { order: { id: 'a', side: 'SIDE_BUY', quantity: '3' } },
      { cancel: { value: { stringValue: 'changed my mind' } } },
      { order: { id: 'b', side: 'SIDE_SELL', quantity: '4', tags: { desk: 'x' } } },
    ]);
    expect(err).toBeNull();
    expect(res).toMatchObject({ seq: '1', event: 'receipt', receipt: { accepted: '2', total: '7' } });
  });

  it.each([
    ['UNKNOWN_TRADER', { open: { trader: 'nobody' } }, [], grpc.status.NOT_FOUND],
    ['QUOTA_EXCEEDED', { open: { trader: 't1' } }, [{ order: { id: 'a', side: 'SIDE_BUY', quantity: '5000' } }], grpc.status.RESOURCE_EXHAUSTED],
    ['INVALID_REQUEST (first message not open)', { order: { id: 'a', side: 'SIDE_BUY', quantity: '1' } }, [], grpc.status.INVALID_ARGUMENT],
    ['INVALID_REQUEST (a client message breaks the contract)', { open: { trader: 't1' } }, [{ order: { id: 'a', side: 'SIDE_BUY', quantity: '0' } }], grpc.status.INVALID_ARGUMENT],
  ])('client-streaming error %s: mapped status', async (name, first, rest, code) => {
    const { err } = await orders(first, rest);
    expect(err.code).toBe(code);
    expect(err.metadata.get('streamspec-error-code')).toEqual([name.split(' ')[0]]);
  });

  it('bidirectional: each order answered in turn, in-band problems, closed after the client ends', async () => {
    const call = market.desk();
    const done = drain(call);
    const next = () => new Promise<Any>((r) => call.once('data', r));
    call.write({ open: {} });
    call.write({ order: { id: '1', side: 'SIDE_BUY', quantity: '2' } });
    expect(await within(next(), 2000, 'fill')).toMatchObject({ seq: '1', event: 'fill', fill: { id: '1', quantity: '2' } });
    call.write({ order: { id: '2', side: 'SIDE_SELL', quantity: '2' } });
    expect(await within(next(), 2000, 'problem')).toMatchObject({ seq: '2', event: 'problem', problem: { code: 'CODE_FORBIDDEN', message: 'no selling 2' } });
    call.end();
    const { data, status } = await done;
    expect(status.code).toBe(grpc.status.OK);
    expect(data.at(-1)).toMatchObject({ seq: '3', event: 'closed', closed: {} });
  });

  it('bidirectional, in-band: an invalid client message is answered with the error message, and the call goes on', async () => {
    const call = market.desk();
    const done = drain(call);
    const next = () => new Promise<Any>((r) => call.once('data', r));
    call.write({ open: {} });
    call.write({ order: { id: 'bad', side: 'SIDE_BUY', quantity: '0' } });
    expect(await within(next(), 2000, 'problem')).toMatchObject({
      seq: '1',
      event: 'problem',
      problem: { code: 'CODE_INVALID_REQUEST', message: 'data.quantity: must be >= 1' },
    });
    // The handler still reads the client's messages after the invalid one.
    call.write({ order: { id: 'ok', side: 'SIDE_BUY', quantity: '3' } });
    expect(await within(next(), 2000, 'fill')).toMatchObject({ seq: '2', event: 'fill', fill: { id: 'ok', quantity: '3' } });
    call.end();
    const { data, status } = await done;
    expect(status.code).toBe(grpc.status.OK);
    expect(data.at(-1)).toMatchObject({ seq: '3', event: 'closed' });
  });

  it('bidirectional, in-band: many invalid messages sent before any is read: every error arrives, in order, then the rest', async () => {
    // desk's buffer is 8: far more invalid messages than that, none read until all are written.
    const n = 200;
    const call = market.desk();
    call.pause();
    call.write({ open: {} });
    for (let i = 0; i < n; i++) call.write({ order: { id: `bad${i}`, side: 'SIDE_BUY', quantity: '0' } });
    call.write({ order: { id: 'ok', side: 'SIDE_BUY', quantity: '1' } });
    call.end();
    await sleep(200);
    const done = drain(call);
    call.resume();
    const { data, status } = await done;
    expect(status.code).toBe(grpc.status.OK);
    expect(data.map((m: Any) => m.event)).toEqual([...Array<string>(n).fill('problem'), 'fill', 'closed']);
    expect(data.map((m: Any) => Number(m.seq))).toEqual(Array.from({ length: n + 2 }, (_, i) => i + 1));
  });

  it('cancellation from the client aborts the handler within 1 s', async () => {
    seen.stopped = [];
    const call = market.quotes({ symbol: 'SLOW', count: 1 });
    call.on('error', () => {});
    await within(new Promise((r) => call.once('data', r)), 2000, 'first quote');
    const t0 = performance.now();
    call.cancel();
    await until(() => seen.stopped.length > 0, 1000, 'handler stopped');
    expect(seen.stopped).toEqual([{ stream: 'quotes', aborted: true }]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a slow consumer pauses the producer through HTTP/2 flow control', async () => {
    seen.produced = 0;
    seen.stopped = [];
    const call = market.quotes({ symbol: 'BIG', count: 1 });
    call.on('error', () => {});
    let read = 0;
    call.on('data', () => {
      read++;
      // Read five 10 KB messages, then stop reading: the windows fill and Connect stops pulling.
      if (read === 5) call.pause();
    });
    await until(() => read >= 5, 2000, 'first messages');
    // The buffers between handler and reader (the pump's batch, Node's HTTP/2 session buffer,
    // the stream windows) fill, then the handler is no longer pulled.
    let last = -1;
    for (const end = performance.now() + 5000; seen.produced !== last; await sleep(300)) {
      if (performance.now() > end) throw new Error(`the producer never paused: ${seen.produced} messages made`);
      last = seen.produced;
    }
    await sleep(500);
    expect(seen.produced).toBe(last);
    // Bounded by those buffers (about 10 MB here), not by what the handler could make.
    expect(seen.produced).toBeLessThan(2000);
    expect(read).toBeLessThan(100);
    call.resume();
    await until(() => seen.produced > last + 100, 3000, 'producer resumed');
    call.cancel();
    await until(() => seen.stopped.length > 0, 1000, 'handler stopped');
  });
});

describe('buf curl against the generated server', () => {
  const curl = (protocol: string, path: string, body: Any) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        join(ROOT, 'node_modules/.bin/buf'),
        ['curl', '--protocol', protocol, ...(protocol === 'grpc' ? ['--http2-prior-knowledge'] : []), '--schema', protoDir, '-d', JSON.stringify(body), `http://127.0.0.1:${port}/${path}`],
        { timeout: 30_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as Any).code ?? -1) : 0, stdout, stderr }),
      );
    });
  const messages = (text: string) => JSON.parse(`[${text.trim().replace(/\n}\n{/g, '\n},\n{')}]`);

  it.each(['connect', 'grpc', 'grpcweb'])('server-streaming over %s', async (protocol) => {
    const r = await curl(protocol, 'market.v1.MarketService/Quotes', { symbol: 'ABC', count: 1 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(messages(r.stdout)).toEqual([
      { seq: '1', quote: { price: 100.25, side: 'SIDE_BUY', at: '1700000000000', venues: [{ values: ['XNAS', 'XNYS'] }, { values: ['BATS'] }] } },
      { seq: '2', note: { value: 'done' } },
      { seq: '3', end: { sent: '1' } },
    ]);
  });

  it.each(['connect', 'grpc', 'grpcweb'])('errors over %s carry the mapped code', async (protocol) => {
    const r = await curl(protocol, 'market.v1.MarketService/Quotes', { symbol: 'NONE', count: 1 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('"code": "not_found"');
    expect(r.stderr).toContain('"message": "no such symbol"');
  });
});

describe('the generated Node client', () => {
  const client = () => clientMod.createClient({ baseUrl: `http://127.0.0.1:${port}` });

  it.each(['grpc', 'connect', 'grpc-web'])('reads a server stream over %s as { type, id, data } up to the terminal message', async (protocol) => {
    const c = clientMod.createClient({ baseUrl: `http://127.0.0.1:${port}`, protocol });
    const got: Any[] = [];
    for await (const m of c.quotes({ params: { symbol: 'ABC' }, request: { count: 1, side: 'sell' } })) got.push(m);
    expect(got.map((m) => [m.type, m.data])).toEqual([
      ['quote', { price: 100.25, side: 'sell', at: 1_700_000_000_000, venues: [['XNAS', 'XNYS'], ['BATS']] }],
      ['note', 'done'],
      ['end', { sent: 1 }],
    ]);
    expect(new Set(got.map((m) => m.id.split('.')[0])).size).toBe(1);
    expect(got.map((m) => m.id.split('.')[1])).toEqual(['1', '2', '3']);
  });

  it('resumes after the last id: the handler gets resumeFrom, and only later messages arrive', async () => {
    const first: Any[] = [];
    for await (const m of client().quotes({ params: { symbol: 'ABC' }, request: { count: 3 } })) {
      first.push(m);
      if (first.length === 2) break;
    }
    const rest: Any[] = [];
    for await (const m of client().quotes({ params: { symbol: 'ABC' }, request: { count: 3 }, resumeFrom: first[1].id })) rest.push(m);
    expect(rest.map((m) => m.id)).toEqual([3, 4, 5].map((n) => `${first[0].id.split('.')[0]}.${n}`));
    expect(rest.map((m) => m.type)).toEqual(['quote', 'note', 'end']);
  });

  it('an id that was never issued is RESUME_EXPIRED', async () => {
    const call = client().quotes({ params: { symbol: 'ABC' }, request: { count: 3 }, resumeFrom: 'AAAAAAAAAAAAAAAAAAAAAA.1' });
    await expect(within((async () => { for await (const _ of call); })(), 3000, 'resume')).rejects.toMatchObject({ name: 'StreamError', code: 'RESUME_EXPIRED' });
  });

  it('raises StreamError with the contract code for out-of-band errors', async () => {
    const call = client().orders({ params: {}, request: { trader: 'nobody' } });
    call.close();
    await expect(within((async () => { for await (const _ of call); })(), 3000, 'orders')).rejects.toMatchObject({ name: 'StreamError', code: 'UNKNOWN_TRADER' });
    const limited = client().quotes({ params: { symbol: 'LIMIT' }, request: { count: 1 } });
    await expect(within((async () => { for await (const _ of limited); })(), 3000, 'quotes')).rejects.toMatchObject({ code: 'RATE_LIMITED', retryable: true });
  });

  it('client-streaming: send, close, one terminal message', async () => {
    const call = client().orders({ params: {}, request: { trader: 't2' } });
    await call.send({ type: 'order', data: { id: 'a', side: 'buy', quantity: 10 } });
    await call.send({ type: 'cancel', data: { any: ['json'] } });
    await call.send({ type: 'order', data: { id: 'b', side: 'sell', quantity: 5 } });
    call.close();
    const got: Any[] = [];
    for await (const m of call) got.push(m);
    expect(got.map((m) => [m.type, m.data])).toEqual([['receipt', { accepted: 2, total: 15 }]]);
  });

  it('bidirectional: send and read interleaved, in-band problems as messages', async () => {
    const call = client().desk({ params: {}, request: undefined });
    const it: AsyncIterator<Any> = call[Symbol.asyncIterator]();
    await call.send({ type: 'order', data: { id: '1', side: 'buy', quantity: 1 } });
    expect((await within(it.next(), 2000, 'fill')).value).toMatchObject({ type: 'fill', data: { id: '1', side: 'buy', quantity: 1 } });
    await call.send({ type: 'order', data: { id: '2', side: 'sell', quantity: 1 } });
    expect((await within(it.next(), 2000, 'problem')).value).toMatchObject({ type: 'problem', data: { code: 'FORBIDDEN', message: 'no selling 2' } });
    call.close();
    expect((await within(it.next(), 2000, 'closed')).value).toMatchObject({ type: 'closed', data: null });
    expect((await it.next()).done).toBe(true);
  });

  it('heartbeats keep a quiet stream alive past the idle timeout', async () => {
    // SLOW sends a quote every 50 ms; reading 30 takes 1.5 s, longer than the 1 s idle timeout,
    // and the 200 ms heartbeat is what would keep it alive if quotes stopped. Here: no reconnects.
    const states: string[] = [];
    const call = clientMod.createClient({ baseUrl: `http://127.0.0.1:${port}` }).quotes({ params: { symbol: 'SLOW' }, request: { count: 1 }, onState: (s: string) => states.push(s) });
    let n = 0;
    for await (const _ of call) if (++n === 30) break;
    expect(states.slice(0, 2)).toEqual(['connecting', 'open']);
    expect(states).not.toContain('reconnecting');
  });
});

it('reports no unexpected handler errors except the deliberate bug', () => {
  expect(errors.map(String)).toEqual(['Error: a bug with secrets in it']);
});
