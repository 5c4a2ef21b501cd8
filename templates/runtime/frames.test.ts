import { describe, expect, it } from 'vitest';
import { frameId, newStreamId, parseFrameId, payloadJson } from './frames.ts';

describe('newStreamId', () => {
  it('is 22 base64url characters and differs every call', () => {
    const ids = new Set(Array.from({ length: 100 }, newStreamId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('parseFrameId', () => {
  const sid = 'AAAAAAAAAAAAAAAAAAAAAA';
  it.each([
    ['a frame id', { given: `${sid}.7`, want: { streamId: sid, seq: 7 } }],
    ['position zero', { given: `${sid}.0`, want: { streamId: sid, seq: 0 } }],
    ['round trip', { given: frameId(sid, 123456), want: { streamId: sid, seq: 123456 } }],
    ['no seq', { given: sid, want: undefined }],
    ['short stream id', { given: 'abc.1', want: undefined }],
    ['leading zero', { given: `${sid}.01`, want: undefined }],
    ['negative', { given: `${sid}.-1`, want: undefined }],
    ['trailing junk', { given: `${sid}.1\n`, want: undefined }],
    ['beyond safe integers', { given: `${sid}.9999999999999999`, want: undefined }],
  ])('%s', (_, { given, want }) => {
    expect(parseFrameId(given)).toEqual(want);
  });
});

describe('payloadJson', () => {
  it.each([
    ['no payload is null', { given: undefined, want: 'null' }],
    ['null', { given: null, want: 'null' }],
    ['line breaks stay escaped', { given: { t: 'a\nb\r\u2028' }, want: '{"t":"a\\nb\\r\u2028"}' }],
  ])('%s', (_, { given, want }) => {
    expect(payloadJson(given)).toBe(want);
  });
});
