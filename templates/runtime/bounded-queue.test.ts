import { describe, expect, it } from 'vitest';
import { createBoundedQueue, type Overflow } from './bounded-queue.ts';

const drain = <T>(q: { shift(): T | undefined; size: number }) => {
  const out: T[] = [];
  while (q.size > 0) out.push(q.shift()!);
  return out;
};

describe('createBoundedQueue', () => {
  it.each<[string, { given: { overflow: Overflow; capacity: number; push: number[] }; want: { kept: number[]; dropped: number } }]>([
    ['under capacity keeps all', { given: { overflow: 'drop-oldest', capacity: 3, push: [1, 2] }, want: { kept: [1, 2], dropped: 0 } }],
    [
      'drop-oldest keeps the newest',
      { given: { overflow: 'drop-oldest', capacity: 3, push: [1, 2, 3, 4, 5] }, want: { kept: [3, 4, 5], dropped: 2 } },
    ],
    [
      'drop-newest keeps the oldest',
      { given: { overflow: 'drop-newest', capacity: 3, push: [1, 2, 3, 4, 5] }, want: { kept: [1, 2, 3], dropped: 2 } },
    ],
    ['capacity one, drop-oldest', { given: { overflow: 'drop-oldest', capacity: 1, push: [1, 2, 3] }, want: { kept: [3], dropped: 2 } }],
    [
      'wraps around many times',
      {
        given: { overflow: 'drop-oldest', capacity: 4, push: Array.from({ length: 103 }, (_, i) => i) },
        want: { kept: [99, 100, 101, 102], dropped: 99 },
      },
    ],
  ])('%s', (_, { given, want }) => {
    const q = createBoundedQueue<number>(given.capacity, given.overflow);
    for (const v of given.push) q.push(v);
    expect(q.size).toBe(want.kept.length);
    expect(drain(q)).toEqual(want.kept);
    expect(q.takeDropped()).toBe(want.dropped);
    expect(q.takeDropped()).toBe(0);
  });

  it('interleaves push and shift in order', () => {
    const q = createBoundedQueue<number>(2, 'drop-newest');
    expect(q.push(1)).toBe(true);
    expect(q.shift()).toBe(1);
    expect(q.push(2)).toBe(true);
    expect(q.push(3)).toBe(true);
    expect(q.push(4)).toBe(false);
    expect(q.shift()).toBe(2);
    expect(q.push(5)).toBe(true);
    expect(drain(q)).toEqual([3, 5]);
    expect(q.shift()).toBeUndefined();
  });

  it('clear empties but keeps the drop count', () => {
    const q = createBoundedQueue<number>(1, 'drop-oldest');
    q.push(1);
    q.push(2);
    q.clear();
    expect(q.size).toBe(0);
    expect(q.takeDropped()).toBe(1);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => createBoundedQueue(0, 'drop-oldest')).toThrow(RangeError);
    expect(() => createBoundedQueue(1.5, 'drop-oldest')).toThrow(RangeError);
  });
});
