import { describe, expect, it } from 'vitest';
import {
  assignNumbers,
  EMPTY_PROTO_LOCK,
  type LockEntry,
  parseProtoLock,
  printProtoLock,
  type ProtoLock,
  ProtoLockError,
} from './proto-lock.ts';

const entry = (
  numbers: Record<string, number>,
  reservedNumbers: number[] = [],
  reservedNames: string[] = [],
): LockEntry => ({
  numbers,
  reservedNumbers,
  reservedNames,
});

describe('assignNumbers', () => {
  it.each<[string, { given: [LockEntry | undefined, string[]]; want: LockEntry }]>([
    ['fresh: declaration order from 1', { given: [undefined, ['b', 'a']], want: entry({ b: 1, a: 2 }) }],
    ['reorder keeps numbers', { given: [entry({ a: 1, b: 2 }), ['b', 'a']], want: entry({ a: 1, b: 2 }) }],
    [
      'add takes the next number',
      { given: [entry({ a: 1, b: 2 }), ['c', 'a', 'b']], want: entry({ a: 1, b: 2, c: 3 }) },
    ],
    ['remove reserves number and name', { given: [entry({ a: 1, b: 2 }), ['a']], want: entry({ a: 1 }, [2], ['b']) }],
    [
      'new numbers go above reserved ones',
      { given: [entry({ a: 1 }, [7], ['old']), ['a', 'n']], want: entry({ a: 1, n: 8 }, [7], ['old']) },
    ],
    [
      'a returning name gets a fresh number and is no longer reserved',
      { given: [entry({ a: 1 }, [2], ['b']), ['a', 'b']], want: entry({ a: 1, b: 3 }, [2], []) },
    ],
    [
      'skips the range protobuf keeps for itself',
      { given: [entry({ a: 18999 }), ['a', 'b']], want: entry({ a: 18999, b: 20000 }) },
    ],
  ])('%s', (_name, { given, want }) => {
    expect(assignNumbers(...given).entry).toEqual(want);
  });

  it('returns the number of every name', () => {
    expect([...assignNumbers(entry({ x: 4 }), ['y', 'x']).numbers]).toEqual([
      ['y', 5],
      ['x', 4],
    ]);
  });
});

describe('printProtoLock / parseProtoLock', () => {
  const lock: ProtoLock = {
    version: 1,
    messages: { 'Order.Item': entry({ b: 2, a: 1 }, [5, 3], ['z', 'y']), Order: entry({ id: 1 }) },
    enums: { Color: entry({ COLOR_RED: 1 }) },
  };

  it('prints deterministically: sorted entries, numbers ascending, fixed key order', () => {
    expect(printProtoLock(lock)).toBe(`{
  "version": 1,
  "messages": {
    "Order": {
      "numbers": {
        "id": 1
      },
      "reservedNumbers": [],
      "reservedNames": []
    },
    "Order.Item": {
      "numbers": {
        "a": 1,
        "b": 2
      },
      "reservedNumbers": [
        3,
        5
      ],
      "reservedNames": [
        "y",
        "z"
      ]
    }
  },
  "enums": {
    "Color": {
      "numbers": {
        "COLOR_RED": 1
      },
      "reservedNumbers": [],
      "reservedNames": []
    }
  }
}
`);
  });

  it('round-trips', () => {
    expect(printProtoLock(parseProtoLock(printProtoLock(lock)))).toBe(printProtoLock(lock));
    expect(parseProtoLock(printProtoLock(EMPTY_PROTO_LOCK))).toEqual(EMPTY_PROTO_LOCK);
  });

  it('keeps a hostile key as data', () => {
    const parsed = parseProtoLock(
      '{"version":1,"messages":{"__proto__":{"numbers":{"__proto__":1},"reservedNumbers":[],"reservedNames":[]}},"enums":{}}',
    );
    expect(Object.keys(parsed.messages)).toEqual(['__proto__']);
    expect(printProtoLock(parsed)).toContain('"__proto__": 1');
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['not an object', '[]', /the top level must be an object/],
    ['wrong version', '{"version":2,"messages":{},"enums":{}}', /"version" must be 1, got 2/],
    ['unknown key', '{"version":1,"messages":{},"enums":{},"x":1}', /key "x" is not known/],
    ['missing section', '{"version":1,"messages":{}}', /"enums" must be an object/],
    ['entry not an object', '{"version":1,"messages":{"A":1},"enums":{}}', /messages\["A"\] must be an object/],
    [
      'number not an integer',
      '{"version":1,"messages":{"A":{"numbers":{"a":1.5},"reservedNumbers":[],"reservedNames":[]}},"enums":{}}',
      /messages\["A"\] "a" has 1.5, not a field number/,
    ],
    [
      'number used twice',
      '{"version":1,"messages":{"A":{"numbers":{"a":1},"reservedNumbers":[1],"reservedNames":[]}},"enums":{}}',
      /messages\["A"\] uses number 1 twice/,
    ],
    [
      'reserved names not strings',
      '{"version":1,"messages":{},"enums":{"E":{"numbers":{},"reservedNumbers":[],"reservedNames":[1]}}}',
      /enums\["E"\].reservedNames must be an array of strings/,
    ],
  ])('rejects a corrupt lock: %s', (_name, text, want) => {
    expect(() => parseProtoLock(text)).toThrow(ProtoLockError);
    expect(() => parseProtoLock(text)).toThrow(want);
  });
});
