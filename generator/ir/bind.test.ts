import { describe, expect, it } from 'vitest';
import { loadYamlText } from '../load/load.ts';
import { bind } from './bind.ts';
import { buildContract } from './build.ts';
import type { Transport } from './types.ts';

function contract(streamBody: string) {
  const yaml = `streamspec: "1.0"
info: { title: T, version: 1.0.0 }
package: t.v1
streams:
  s:
    path: /v1/s
    consumer: service
    termination: { message: done }
    messages: { m: { type: object } }
${streamBody.split('\n').map((l) => `    ${l}`).join('\n')}
`;
  const { file } = loadYamlText('t.yaml', yaml);
  const r = buildContract({ root: file!, files: new Map([['t.yaml', file!]]), hash: '0'.repeat(64) });
  expect(r.diagnostics).toEqual([]);
  return r.contract!;
}

const oneWay = 'direction: server-to-client\nproducer: server';
const twoWay = 'direction: bidirectional\nproducer: both\nclientMessages: { c: { type: object } }';

describe('bind', () => {
  it.each([
    ['flat request over SSE travels as a query', 'sse', `${oneWay}\nbackpressure: { strategy: pull }\nrequest: { type: object, properties: { q: { type: string }, n: { type: array, items: { type: integer } } } }`, 'query'],
    ['nested request over NDJSON travels as a body', 'ndjson', `${oneWay}\nbackpressure: { strategy: pull }\nrequest: { type: object, properties: { q: { type: object } } }`, 'body'],
    ['a request over WebSocket travels in the open frame', 'websocket', `${twoWay}\nbackpressure: { strategy: pull }\nrequest: { type: object }`, 'open-frame'],
    ['a request over gRPC is a message', 'grpc', `${oneWay}\nbackpressure: { strategy: pull }\nrequest: { type: object }`, 'message'],
    ['no request', 'sse', `${oneWay}\nbackpressure: { strategy: pull }`, 'none'],
  ] as const)('%s', (_, transport: Transport, body, want) => {
    expect(bind(contract(body), transport).streams[0]!.requestVia).toBe(want);
  });

  it('takes the transport native resume and error encoding', () => {
    const c = contract(`${twoWay}\nbackpressure: { strategy: credit, credits: 4 }\nresume: { strategy: last-event-id, retention: { messages: 9 } }\nerrors: { mode: out-of-band }`);
    expect(bind(c, 'websocket').streams[0]).toMatchObject({ resumeVia: 'token', errorEncoding: 'close-code', creditGrants: true });
    expect(bind(c, 'grpc').streams[0]).toMatchObject({ resumeVia: 'token', errorEncoding: 'grpc-status', creditGrants: true });
    const sse = contract(`${oneWay}\nbackpressure: { strategy: pull }\nresume: { strategy: last-event-id, retention: { messages: 9 } }`);
    expect(bind(sse, 'sse').streams[0]).toMatchObject({ resumeVia: 'last-event-id', errorEncoding: 'error-frame-then-close', creditGrants: false });
  });
});
