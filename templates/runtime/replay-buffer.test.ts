import { describe, expect, it } from 'vitest';
import { createReplayBuffer } from './replay-buffer.ts';

const filled = (n: number, retention: { messages: number; seconds?: number }, clock = { t: 0 }) => {
  const b = createReplayBuffer(retention, () => clock.t);
  for (let i = 1; i <= n; i++) b.append(`f${i}`);
  return b;
};

describe('createReplayBuffer', () => {
  it('numbers frames from 1, one above the last', () => {
    const b = createReplayBuffer({ messages: 10 });
    expect(b.lastSeq).toBe(0);
    expect(b.append('a')).toBe(1);
    expect(b.append('b')).toBe(2);
    expect(b.lastSeq).toBe(2);
  });

  it.each([
    ['everything after 0', { given: 0, want: ['f1', 'f2', 'f3', 'f4', 'f5'] }],
    ['the frames after 3', { given: 3, want: ['f4', 'f5'] }],
    ['nothing after the last', { given: 5, want: [] }],
    ['a position never issued', { given: 6, want: undefined }],
    ['a negative position', { given: -1, want: undefined }],
    ['a fractional position', { given: 1.5, want: undefined }],
  ])('after: %s', (_, { given, want }) => {
    expect(filled(5, { messages: 10 }).after(given)).toEqual(want);
  });

  it.each([
    ['older than the oldest retained minus one is expired', { given: 6, want: undefined }],
    ['the oldest retained minus one replays all retained', { given: 7, want: ['f8', 'f9', 'f10'] }],
    ['inside the window', { given: 9, want: ['f10'] }],
  ])('eviction by count: %s', (_, { given, want }) => {
    const b = filled(10, { messages: 3 });
    expect(b.oldestSeq).toBe(8);
    expect(b.size).toBe(3);
    expect(b.after(given)).toEqual(want);
  });

  it('evicts by age', () => {
    const clock = { t: 0 };
    const b = createReplayBuffer({ messages: 100, seconds: 10 }, () => clock.t);
    b.append('a'); // t=0
    clock.t = 6000;
    b.append('b'); // t=6s
    clock.t = 10_001;
    expect(b.oldestSeq).toBe(2);
    expect(b.after(0)).toBeUndefined();
    expect(b.after(1)).toEqual(['b']);
    clock.t = 16_001;
    expect(b.size).toBe(0);
    expect(b.oldestSeq).toBeUndefined();
    expect(b.after(1)).toBeUndefined();
    // Nothing is missing from the last position, even with no frame retained.
    expect(b.after(2)).toEqual([]);
  });

  it('keeps nothing with messages 0 but still numbers', () => {
    const b = filled(3, { messages: 0 });
    expect(b.lastSeq).toBe(3);
    expect(b.after(2)).toBeUndefined();
    expect(b.after(3)).toEqual([]);
  });

  it('stays correct across compaction of a long run', () => {
    const b = filled(10_000, { messages: 50 });
    expect(b.size).toBe(50);
    expect(b.oldestSeq).toBe(9951);
    expect(b.after(9998)).toEqual(['f9999', 'f10000']);
    expect(b.after(9950)).toHaveLength(50);
    expect(b.after(9949)).toBeUndefined();
  });

  it('returns frames byte-exact across growth and sliding of its store', () => {
    // Frames of varied length with multi-byte text: a wrong offset or a truncated write shows up.
    const text = (i: number) => `id: S.${i}\ndata: ${'é€😀x'.repeat(i % 97)}\n\n`;
    const b = createReplayBuffer({ messages: 100 });
    for (let i = 1; i <= 5000; i++) b.append(text(i));
    const want = Array.from({ length: 100 }, (_, k) => text(4901 + k));
    expect(b.after(4900)).toEqual(want);
    expect(b.after(4899)).toBeUndefined();
    expect(b.oldestSeq).toBe(4901);
  });

  it('keeps a frame whose UTF-8 form is three times its length', () => {
    const b = createReplayBuffer({ messages: 10 });
    const big = `data: ${'€'.repeat(20_000)}\n\n`;
    b.append('a');
    b.append(big);
    expect(b.after(0)).toEqual(['a', big]);
  });

  it('keeps frames in order after eviction by age empties it', () => {
    const clock = { t: 0 };
    const b = createReplayBuffer({ messages: 10, seconds: 1 }, () => clock.t);
    b.append('a');
    b.append('b');
    clock.t = 5000;
    expect(b.size).toBe(0);
    b.append('c');
    b.append('d');
    expect(b.after(2)).toEqual(['c', 'd']);
    expect(b.after(3)).toEqual(['d']);
  });
});
