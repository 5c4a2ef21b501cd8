import { describe, expect, it } from 'vitest';
import { SSE_HEADERS, sseEncoder } from './sse-writer.ts';

const frame = { seq: 3, id: 'S.3', type: 'token', data: { text: 'Hel' }, dropped: 0 };

describe('sseEncoder', () => {
  it.each([
    ['a message', { given: frame, want: 'id: S.3\nevent: token\ndata: {"text":"Hel"}\n\n' }],
    ['no payload', { given: { ...frame, type: 'done', data: undefined }, want: 'id: S.3\nevent: done\ndata: null\n\n' }],
    [
      'a line break in a payload stays on one data line',
      { given: { ...frame, data: { text: 'a\nb\r\nc' } }, want: 'id: S.3\nevent: token\ndata: {"text":"a\\nb\\r\\nc"}\n\n' },
    ],
    [
      'dropped messages announced first',
      { given: { ...frame, dropped: 4 }, want: 'event: $dropped\ndata: {"count":4}\n\nid: S.3\nevent: token\ndata: {"text":"Hel"}\n\n' },
    ],
    [
      'an error frame',
      {
        given: { ...frame, type: '$error', data: { code: 'RATE_LIMITED', message: 'slow down', retryable: true } },
        want: 'id: S.3\nevent: $error\ndata: {"code":"RATE_LIMITED","message":"slow down","retryable":true}\n\n',
      },
    ],
  ])('%s', (_, { given, want }) => {
    expect(sseEncoder.frame(given)).toBe(want);
  });

  it('refuses a type that would break out of its event line', () => {
    expect(() => sseEncoder.frame({ ...frame, type: 'token\ndata: forged' })).toThrow(/line break/);
  });

  it('refuses a line break in a type even right after a clean frame', () => {
    // The encoder remembers the last clean type; a different one must still be checked.
    sseEncoder.frame({ ...frame, type: 'token' });
    expect(() => sseEncoder.frame({ ...frame, type: 'token\r' })).toThrow(/line break/);
    expect(() => sseEncoder.frame({ ...frame, type: 'token\r' })).toThrow(/line break/);
  });

  it('writes retry, heartbeat and headers exactly', () => {
    expect(sseEncoder.preamble(1500)).toBe('retry: 1500\n\n');
    expect(sseEncoder.heartbeat()).toBe(': hb\n\n');
    expect(SSE_HEADERS).toEqual({ 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  });
});
