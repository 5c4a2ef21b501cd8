// The committed generated/ingest server with examples/ingest handlers, driven by @grpc/grpc-js
// (proto-loader on the committed .proto) over h2c on 127.0.0.1: client streaming end to end,
// and each out-of-band error with its mapped gRPC status.

import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticate, createHandlers } from '../examples/ingest/handlers.ts';
import { createClient } from '../generated/ingest/client.ts';
import { createH2cServer, createRouter, type GrpcRouter } from '../generated/ingest/server.ts';
import { ROOT } from './support/tools.ts';

type Any = any;

let server: Server;
let router: GrpcRouter;
let port: number;
let ingest: Any;
const stops: boolean[] = [];

beforeAll(async () => {
  router = createRouter(createHandlers({ agents: ['a1'], quota: 3, onStop: (aborted) => stops.push(aborted) }), {
    authenticate: createAuthenticate({ 'tok-a1': 'a1' }),
    onError: () => {},
  });
  server = createH2cServer(router.node);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const def = protoLoader.loadSync('ingest/v1/ingest.proto', { includeDirs: [join(ROOT, 'generated/ingest/proto')], longs: String, enums: String, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as Any;
  ingest = new pkg.ingest.v1.IngestService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(async () => {
  ingest?.close();
  router?.close();
  await new Promise((r) => server?.close(r));
});

const sample = (name: string, kind = 'KIND_GAUGE') => ({ name, kind, value: 1.5, timeUnixNano: '1700000000000' });

function metrics(messages: Any[]): Promise<{ err: Any; res: Any }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('metrics: no answer within 5 s')), 5000);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer tok-a1');
    const call = ingest.metrics(metadata, (err: Any, res: Any) => {
      clearTimeout(timer);
      resolve({ err, res });
    });
    for (const m of messages) call.write(m);
    call.end();
  });
}

describe('ingest over gRPC', () => {
  it('summarises the batches when the agent closes', async () => {
    const { err, res } = await metrics([
      { open: { agentId: 'a1', host: { name: 'h1', tags: { az: 'b' } } } },
      { batch: { sequence: '1', samples: [sample('cpu.load'), sample('lat', 'KIND_HISTOGRAM')] } },
      { batch: { sequence: '2', samples: [sample('mem.used', 'KIND_COUNTER')] } },
    ]);
    expect(err).toBeNull();
    expect(res).toMatchObject({ seq: '1', event: 'summary', summary: { accepted: '2', rejected: '1', rejections: [{ sequence: '1', reason: 'lat: a histogram without buckets' }] } });
  });

  it.each([
    ['UNKNOWN_AGENT', [{ open: { agentId: 'stranger' } }], grpc.status.NOT_FOUND],
    ['QUOTA_EXCEEDED', [{ open: { agentId: 'a1' } }, { batch: { sequence: '1', samples: ['a', 'b', 'c', 'd'].map((n) => sample(n)) } }], grpc.status.RESOURCE_EXHAUSTED],
    ['INVALID_REQUEST', [{ open: { agentId: 'a1' } }, { batch: { sequence: '1', samples: [] } }], grpc.status.INVALID_ARGUMENT],
    ['INVALID_REQUEST', [{ batch: { sequence: '1', samples: [sample('x')] } }], grpc.status.INVALID_ARGUMENT],
  ])('%s ends the call with status %#', async (code, messages, status) => {
    const { err } = await metrics(messages);
    expect(err.code).toBe(status);
    expect(err.metadata.get('streamspec-error-code')).toEqual([code]);
  });

  it('the generated client sends batches and reads the summary', async () => {
    const call = createClient({ baseUrl: `http://127.0.0.1:${port}`, headers: () => ({ authorization: 'Bearer tok-a1' }) }).metrics({ params: {}, request: { agentId: 'a1' } });
    await call.send({ type: 'batch', data: { sequence: 1, samples: [{ name: 'cpu', kind: 'gauge', value: 0.5, timeUnixNano: 1 }] } });
    call.close();
    const got = [];
    for await (const m of call) got.push(m);
    expect(got.map((m) => [m.type, m.data])).toEqual([['summary', { accepted: 1, rejected: 0, rejections: [] }]]);
  });
});
