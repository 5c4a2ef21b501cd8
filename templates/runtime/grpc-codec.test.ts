// The direct codec on the messages protoc-gen-es makes of test/fixtures/grpc/market.yaml: contract
// JSON -> message (checked field by field, as protobuf-es holds it) -> contract JSON again.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../generator/generate.ts';
import { removeWorkDirs, ROOT, workDir } from '../../test/support/tools.ts';
import { createCodec, type Codec } from './grpc-codec.ts';

type Any = any;
let pb: Any;
let codec: Codec;

beforeAll(async () => {
  const out = join(workDir('grpc-codec'), 'out');
  expect((await generate({ spec: 'test/fixtures/grpc/market.yaml', out, cwd: ROOT })).ok).toBe(true);
  pb = await import(pathToFileURL(join(out, 'proto/market/v1/market_pb.ts')).href);
  codec = createCodec({
    enums: {
      'market.v1.Side': { SIDE_BUY: 'buy', SIDE_SELL: 'sell' },
      'market.v1.DeskResponse.Problem.Code': { CODE_FORBIDDEN: 'FORBIDDEN', CODE_INTERNAL: 'INTERNAL' },
    },
    wrappers: ['market.v1.OrdersRequest.Cancel', 'market.v1.Quote.Venues', 'market.v1.QuotesResponse.Note'],
  });
});
afterAll(() => removeWorkDirs());

/** The keys of a message and of every message and oneof in it, in insertion order. */
const order = (x: unknown): unknown =>
  Array.isArray(x) ? x.map(order) : typeof x === 'object' && x !== null && !(x instanceof Uint8Array) ? Object.entries(x).map(([k, v]) => [k, order(v)]) : null;

describe('grpc codec', () => {
  it.each<[string, { schema: string; given: object; proto: (m: Any) => unknown; protoWant: unknown; want?: object }]>([
    [
      'enum, int64, a list of lists (wrapper), seq',
      {
        schema: 'QuotesResponseSchema',
        given: { seq: 1, quote: { price: 1.5, side: 'sell', at: 1_700_000_000_000, venues: [['A', 'B'], ['C']] } },
        proto: (m) => [m.seq, m.event.case, m.event.value.side, m.event.value.at, m.event.value.venues.map((v: Any) => v.values)],
        protoWant: [1n, 'quote', 2, 1_700_000_000_000n, [['A', 'B'], ['C']]],
      },
    ],
    ['a string payload (wrapper)', { schema: 'QuotesResponseSchema', given: { seq: 2, note: 'x' }, proto: (m) => [m.event.case, m.event.value.value], protoWant: ['note', 'x'] }],
    [
      'implicit zero fields stay present; an absent optional field stays absent',
      { schema: 'QuotesRequestSchema', given: { symbol: '', count: 0 }, proto: (m) => [m.symbol, m.count, m.side], protoWant: ['', 0, undefined], want: { symbol: '', count: 0, resumeToken: '' } },
    ],
    ['a map and uint64', { schema: 'OrdersRequestSchema', given: { order: { id: 'a', side: 'buy', quantity: 3, tags: { k: 'v' } } }, proto: (m) => [m.event.value.quantity, { ...m.event.value.tags }], protoWant: [3n, { k: 'v' }] }],
    ['an untyped payload that is null (google.protobuf.Value)', { schema: 'OrdersRequestSchema', given: { cancel: null }, proto: (m) => [m.event.case, m.event.value.value?.kind.case], protoWant: ['cancel', 'nullValue'] }],
    ['an untyped payload that is JSON', { schema: 'OrdersRequestSchema', given: { cancel: { any: ['json', 1, true] } }, proto: (m) => [m.event.case, m.event.value.value?.kind.case], protoWant: ['cancel', 'structValue'] }],
    ['an enum of error codes', { schema: 'DeskResponseSchema', given: { seq: 3, problem: { code: 'FORBIDDEN', message: 'no' } }, proto: (m) => [m.event.value.code, m.event.value.retryable], protoWant: [1, undefined] }],
  ])('%s', (_, { schema, given, proto, protoWant, want }) => {
    const desc = pb[schema];
    const m = codec.toMessage(desc, given);
    expect(proto(m)).toEqual(protoWant);
    expect(codec.fromMessage(desc, m)).toEqual(want ?? given);
  });

  it.each<[string, { schema: string; given: object }]>([
    ['a response whose event is a message with a list of wrappers', { schema: 'QuotesResponseSchema', given: { seq: 7, quote: { price: 2, side: 'buy', at: 3, venues: [['A'], []] } } }],
    ['a response with no event (all zero)', { schema: 'QuotesResponseSchema', given: {} }],
    ['a request with an optional enum unset', { schema: 'QuotesRequestSchema', given: { symbol: 'S', count: 1 } }],
    ['a map of strings and a uint64', { schema: 'OrdersRequestSchema', given: { order: { id: 'a', side: 'sell', quantity: 2, tags: { k: 'v' } } } }],
  ])('builds the message protobuf-es would: %s', (_, { schema, given }) => {
    // The codec builds messages itself, without `create`: what it builds must be indistinguishable
    // from protobuf-es's own message (every implicit field present, nothing extra), here the one
    // the binary form decodes to.
    const desc = pb[schema];
    const m = codec.toMessage(desc, given);
    const decoded = fromBinary(desc, toBinary(desc, m));
    expect(m).toStrictEqual(decoded);
    expect(m).toStrictEqual(create(desc, m as never));
    // Members in protobuf-es's own order, so the objects share its hidden classes: toBinary and
    // fromBinary then see one shape of each message, not two.
    expect(order(m)).toEqual(order(decoded));
  });

  it('gives every message its own lists, maps and oneofs', () => {
    const a = codec.toMessage(pb.QuotesResponseSchema, { seq: 1, quote: { price: 1, side: 'buy', at: 1 } }) as Any;
    const b = codec.toMessage(pb.QuotesResponseSchema, { seq: 2, quote: { price: 1, side: 'buy', at: 1 } }) as Any;
    const zero1 = codec.toMessage(pb.QuotesResponseSchema, {}) as Any;
    const zero2 = codec.toMessage(pb.QuotesResponseSchema, {}) as Any;
    a.event.value.venues.push({ values: ['X'] });
    zero1.event.case = 'note';
    expect(b.event.value.venues).toEqual([]);
    expect(zero2.event).toEqual({ case: undefined });
    const o1 = codec.toMessage(pb.OrdersRequestSchema, { order: { id: 'a', side: 'buy', quantity: 1 } }) as Any;
    const o2 = codec.toMessage(pb.OrdersRequestSchema, { order: { id: 'b', side: 'buy', quantity: 1 } }) as Any;
    o1.event.value.tags.k = 'v';
    expect(o2.event.value.tags).toEqual({});
  });

  it('refuses a value an enum does not have', () => {
    expect(() => codec.toMessage(pb.QuotesResponseSchema, { seq: 1, quote: { price: 1, side: 'hold', at: 1 } })).toThrow(/"hold" is not a value of enum market\.v1\.Side/);
  });

  it('keeps `__proto__` as an own key of a map', () => {
    const back = codec.fromMessage(pb.OrdersRequestSchema, codec.toMessage(pb.OrdersRequestSchema, JSON.parse('{"order":{"id":"a","side":"buy","quantity":1,"tags":{"__proto__":"p"}}}'))) as Any;
    expect(Object.prototype.hasOwnProperty.call(back.order.tags, '__proto__')).toBe(true);
    expect(({} as Any).p).toBeUndefined();
  });
});
