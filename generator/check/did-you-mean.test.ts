import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance } from './did-you-mean.ts';

describe('editDistance', () => {
  it.each([
    ['termination', 'termination', 0],
    ['terminaton', 'termination', 1], // deletion
    ['sumary', 'summary', 1],
    ['direciton', 'direction', 1], // neighbours swapped count once
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ] as const)('%s ~ %s = %d', (a, b, want) => {
    expect(editDistance(a, b)).toBe(want);
    expect(editDistance(b, a)).toBe(want);
  });
});

describe('didYouMean', () => {
  const fields = ['summary', 'description', 'path', 'direction', 'producer', 'consumer', 'termination', 'errors'];
  it.each([
    ['one edit away', { given: 'terminaton', want: 'termination' }],
    ['two edits away', { given: 'consumr_', want: 'consumer' }],
    ['a swap', { given: 'direciton', want: 'direction' }],
    ['case only, however far the edit distance', { given: 'DESCRIPTION', want: 'description' }],
    ['three edits is too far', { given: 'prodcrs', want: undefined }],
    ['a short word is not "corrected" into another short word', { given: 'to', want: undefined }],
    ['nothing close', { given: 'lossiness', want: undefined }],
  ] as const)('%s', (_, { given, want }) => {
    expect(didYouMean(given, fields)).toBe(want);
  });
  it('never suggests the word itself, and takes the nearest candidate', () => {
    expect(didYouMean('path', ['path'])).toBeUndefined();
    expect(didYouMean('credit', ['credits', 'cred'])).toBe('credits');
    expect(didYouMean('drop-olde', ['drop-newest', 'drop-oldest'])).toBe('drop-oldest');
  });
});
