import { describe, expect, it } from 'vitest';
import { fromJsonPointer, valueAt } from './pointer.ts';

const doc = { streams: { 'a/b': { codes: ['X', 'Y'] }, 't~': 1 } };

describe('pointers', () => {
  it.each([
    ['', []],
    ['/streams', ['streams']],
    ['/streams/a~1b/codes/1', ['streams', 'a/b', 'codes', 1]],
    ['/streams/t~0', ['streams', 't~']],
    ['/missing/0', ['missing', '0']],
  ] as const)('fromJsonPointer(%j)', (given, want) => {
    expect(fromJsonPointer(doc, given)).toEqual(want);
  });

  it('valueAt follows keys and indexes, and is undefined off the path', () => {
    expect(valueAt(doc, ['streams', 'a/b', 'codes', 1])).toBe('Y');
    expect(valueAt(doc, ['streams', 'nope', 'codes'])).toBeUndefined();
    expect(valueAt(null, ['x'])).toBeUndefined();
  });
});
