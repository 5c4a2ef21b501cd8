// How the generated gRPC server encodes responses (templates/runtime/grpc-binary.ts): binary
// calls are sent bytes it encoded itself, JSON calls messages for Connect to encode; a resume
// replays the same stored bytes over either codec, a stored error too; and the rpcs mounted in
// a router of the user's, which may have interceptors, send ordinary messages. The client is
// Connect's own (connect-node), over all three protocols.

import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toJson } from '@bufbuild/protobuf';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generator/generate.ts';
import { within } from './http-harness.ts';
import { removeWorkDirs, ROOT, workDir } from './support/tools.ts';

type Any = any;

function handlers(server: Any) {
  const { StreamError } = server;
  return {
    async *quotes({ params, request, resumeFrom = 0 }: Any) {
      for (let i = resumeFrom; i < request.count; i++) {
        // LATE: fails (fail-fast, not retryable) once two quotes are out.
        if (params.symbol === 'LATE' && i === 2) throw new StreamError('SYMBOL_NOT_FOUND', 'delisted');
        yield { type: 'quote', data: { price: 100.25 + i, side: i % 2 ? 'sell' : 'buy', at: 1_700_000_000_000 + i, venues: [['XNAS', 'ü 😀'], []] } };
        yield { type: 'note', data: 'n'.repeat(i * 70) }; // lengths of one and two bytes
      }
      return { type: 'end', data: { sent: request.count } };
    },
    async *orders() {
      return { type: 'receipt', data: { accepted: 0, total: 0 } };
    },
    async *desk() {
      return { type: 'closed' };
    },
  };
}

let serverMod: Any;
let pb: Any;
let router: Any;
const servers: Server[] = [];

async function listen(handler: Any): Promise<string> {
  const server: Server = serverMod.createH2cServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let base: string;

beforeAll(async () => {
  const out = join(workDir('grpc-encoding'), 'out');
  expect((await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT })).ok).toBe(true);
  serverMod = await import(pathToFileURL(join(out, 'server.ts')).href);
  pb = await import(pathToFileURL(join(out, 'proto/market/v1/market_pb.ts')).href);
  router = serverMod.createRouter(handlers(serverMod), { onError: () => {} });
  base = await listen(router.node);
});

afterAll(async () => {
  router?.close();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  removeWorkDirs();
});

type Options = { baseUrl: string; useBinaryFormat: boolean };
const TRANSPORTS = {
  grpc: (o: Options) => createGrpcTransport(o),
  connect: (o: Options) => createConnectTransport({ ...o, httpVersion: '1.1' }),
  'grpc-web': (o: Options) => createGrpcWebTransport({ ...o, httpVersion: '1.1' }),
} as const;
type Protocol = keyof typeof TRANSPORTS;

/** Every response of one `quotes` call as proto3 JSON, and how it ended. */
async function quotes(url: string, protocol: Protocol, binary: boolean, request: Any, headers: Record<string, string> = {}) {
  const client = createClient(pb.MarketService, TRANSPORTS[protocol]({ baseUrl: url, useBinaryFormat: binary })) as Any;
  const got: Any[] = [];
  let streamId: string | null = null;
  const error = await within(
    (async () => {
      try {
        for await (const res of client.quotes(request, { headers, onHeader: (h: Headers) => (streamId = h.get('streamspec-stream-id')) })) got.push(toJson(pb.QuotesResponseSchema, res));
      } catch (e) {
        return e as Any;
      }
      return undefined;
    })(),
    5000,
    `${protocol} call`,
  );
  return { got, error, streamId: streamId as string | null };
}

const COMBOS: [Protocol, boolean][] = [
  ['grpc', true],
  ['grpc', false],
  ['connect', true],
  ['connect', false],
  ['grpc-web', true],
  ['grpc-web', false],
];

describe('responses the server encodes', () => {
  it.each(COMBOS)('%s (binary: %s): the messages Connect would have sent', async (protocol, binary) => {
    const { got, error } = await quotes(base, protocol, binary, { symbol: 'ABC', count: 3 });
    expect(error).toBeUndefined();
    expect(got.map((m) => m.seq)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(got[2]).toEqual({ seq: '3', quote: { price: 101.25, side: 'SIDE_SELL', at: '1700000000001', venues: [{ values: ['XNAS', 'ü 😀'] }, {}] } });
    expect(got[5]).toEqual({ seq: '6', note: { value: 'n'.repeat(140) } });
    expect(got[6]).toEqual({ seq: '7', end: { sent: '3' } });
  });

  it.each(COMBOS)('a resume over %s (binary: %s) replays what a binary call was sent', async (protocol, binary) => {
    const first = await quotes(base, 'grpc', true, { symbol: 'ABC', count: 3 });
    const again = await quotes(base, protocol, binary, { symbol: 'ABC', count: 3, resumeToken: `${first.streamId}.2` });
    expect(again.error).toBeUndefined();
    expect(again.got).toEqual(first.got.slice(2));
    // and the other way round: a binary resume of a stream a JSON call started
    const json = await quotes(base, protocol, false, { symbol: 'ABC', count: 3 });
    const resumed = await quotes(base, 'grpc', true, { symbol: 'ABC', count: 3, resumeToken: `${json.streamId}.4` });
    expect(resumed.got).toEqual(json.got.slice(4));
  });

  it.each(COMBOS)('a resume over %s (binary: %s) of a stream that failed ends with the same error', async (protocol, binary) => {
    const first = await quotes(base, 'connect', true, { symbol: 'LATE', count: 5 });
    expect(first.got.map((m) => m.seq)).toEqual(['1', '2', '3', '4']);
    expect(first.error).toMatchObject({ code: 5, rawMessage: 'delisted' }); // NOT_FOUND
    const again = await quotes(base, protocol, binary, { symbol: 'LATE', count: 5, resumeToken: `${first.streamId}.1` });
    expect(again.got).toEqual(first.got.slice(1));
    expect(again.error).toMatchObject({ code: 5, rawMessage: 'delisted' });
    expect(again.error.metadata.get('streamspec-error-code')).toBe('SYMBOL_NOT_FOUND');
  });

  it('the rpcs in a router of the user\'s: interceptors see the messages themselves', async () => {
    const seen: Any[] = [];
    const capture: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (!res.stream) return res;
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          for await (const m of message) {
            seen.push(toJson(pb.QuotesResponseSchema, m as Any));
            yield m;
          }
        })(),
      };
    };
    const url = await listen(connectNodeAdapter({ routes: router.routes, interceptors: [capture] }));
    for (const [protocol, binary] of COMBOS) {
      seen.length = 0;
      const { got, error } = await quotes(url, protocol, binary, { symbol: 'ABC', count: 2 });
      expect(error).toBeUndefined();
      expect(got.map((m) => m.seq)).toEqual(['1', '2', '3', '4', '5']);
      expect(seen).toEqual(got);
      expect(got[0]).toEqual({ seq: '1', quote: { price: 100.25, side: 'SIDE_BUY', at: '1700000000000', venues: [{ values: ['XNAS', 'ü 😀'] }, {}] } });
    }
  });
});
