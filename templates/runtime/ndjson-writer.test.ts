import { describe, expect, it } from 'vitest';
import { NDJSON_HEADERS, ndjsonEncoder } from './ndjson-writer.ts';

const frame = { seq: 1, id: 'S.1', type: 'token', data: { text: 'Hel' }, dropped: 0 };

describe('ndjsonEncoder', () => {
  it.each([
    ['a message', { given: frame, want: '{"seq":1,"id":"S.1","type":"token","data":{"text":"Hel"}}\n' }],
    [
      'dropped count',
      {
        given: { ...frame, seq: 2, id: 'S.2', dropped: 3 },
        want: '{"seq":2,"id":"S.2","type":"token","data":{"text":"Hel"},"dropped":3}\n',
      },
    ],
    ['no payload', { given: { ...frame, type: 'done', data: undefined }, want: '{"seq":1,"id":"S.1","type":"done","data":null}\n' }],
    [
      'a line break in a payload stays on one line',
      { given: { ...frame, data: 'a\nb' }, want: '{"seq":1,"id":"S.1","type":"token","data":"a\\nb"}\n' },
    ],
    [
      'a quote in a type is escaped',
      { given: { ...frame, type: 'a"b' }, want: '{"seq":1,"id":"S.1","type":"a\\"b","data":{"text":"Hel"}}\n' },
    ],
  ])('%s', (_, { given, want }) => {
    const line = ndjsonEncoder.frame(given);
    expect(line).toBe(want);
    expect(JSON.parse(line)).toMatchObject({ seq: given.seq, type: given.type });
  });

  // The encoder keeps the last type's JSON: a change of type must never reuse another's.
  it('writes each type as itself when types alternate', () => {
    for (const type of ['a"b', 'token', 'a"b', 'done', 'token'])
      expect(JSON.parse(ndjsonEncoder.frame({ ...frame, type }))).toMatchObject({ type });
  });

  it('writes heartbeat lines, no preamble, and its headers', () => {
    expect(ndjsonEncoder.heartbeat()).toBe('{"type":"$heartbeat"}\n');
    expect(ndjsonEncoder.preamble(1000)).toBe('');
    expect(NDJSON_HEADERS['content-type']).toBe('application/x-ndjson');
    expect(NDJSON_HEADERS['cache-control']).toBe('no-store');
  });
});
