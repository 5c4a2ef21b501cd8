// The compiled binary encoder against protobuf-es's toBinary, byte for byte, over every field
// kind of a proto built by buf here; and the pre-encoded message Connect's serializer writes.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, createFileRegistry, fromBinary, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeWorkDirs, ROOT, workDir } from '../../test/support/tools.ts';
import { binaryEncoder, compileEncoder, preEncoder } from './grpc-binary.ts';

type Any = any;

const PROTO3 = `syntax = "proto3";
package t.v1;

enum Color {
  COLOR_UNSPECIFIED = 0;
  COLOR_RED = 1;
  COLOR_NEG = -3;
}

message Scalars {
  double d = 1;
  float f = 2;
  int64 i64 = 3;
  uint64 u64 = 4;
  int32 i32 = 5;
  fixed64 f64 = 6;
  fixed32 f32 = 7;
  bool b = 8;
  string s = 9;
  bytes by = 12;
  uint32 u32 = 13;
  sfixed32 sf32 = 15;
  sfixed64 sf64 = 16;
  sint32 si32 = 17;
  sint64 si64 = 18;
  Color color = 19;
  int64 i64s = 20 [jstype = JS_STRING];
}

message Optionals {
  optional double d = 1;
  optional string s = 2;
  optional int32 i = 3;
  optional Color color = 4;
  optional bool b = 5;
}

message Lists {
  repeated double d = 1;
  repeated int32 i32 = 2;
  repeated int64 i64 = 3;
  repeated string s = 4;
  repeated bytes by = 5;
  repeated Color colors = 6;
  repeated int32 unpacked = 7 [packed = false];
  repeated Scalars msgs = 8;
  repeated sint64 si64 = 9;
  repeated bool b = 10;
  repeated fixed32 f32 = 11;
}

message Tree {
  string name = 1;
  repeated Tree children = 2;
  Tree parent = 3;
  oneof pick {
    Scalars scalars = 4;
    string note = 5;
    int64 count = 6;
    Lists lists = 7;
  }
  // Field numbers out of declaration order, one of them needing a two-byte tag.
  int32 late = 3000;
  int32 early = 8;
}

message WithMap {
  int32 a = 1;
  map<string, int32> m = 2;
}

message Holder {
  WithMap inner = 1;
}
`;

const PROTO2 = `syntax = "proto2";
package t.v2;

message Req {
  required int32 a = 1;
}
`;

let reg: ReturnType<typeof createFileRegistry>;
const desc = (name: string): DescMessage => reg.getMessage(name)!;

beforeAll(() => {
  const dir = workDir('grpc-binary');
  writeFileSync(join(dir, 'buf.yaml'), 'version: v2\n');
  writeFileSync(join(dir, 't3.proto'), PROTO3);
  writeFileSync(join(dir, 't2.proto'), PROTO2);
  execFileSync(join(ROOT, 'node_modules/.bin/buf'), ['build', '-o', 'set.binpb'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  reg = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(join(dir, 'set.binpb'))));
});
afterAll(() => removeWorkDirs());

/** Encodes `init` as a message of `name` both ways; they must agree to the byte. */
const both = (name: string, init: Any) => {
  const d = desc(name);
  const m = create(d, init) as Message;
  const encode = compileEncoder(d);
  expect(encode, `${name} compiles`).toBeDefined();
  return { ours: Buffer.from(encode!(m)), theirs: Buffer.from(toBinary(d, m)) };
};

const scalars = {
  d: -1.5e300,
  f: 3.25,
  i64: -9_223_372_036_854_775_808n,
  u64: 18_446_744_073_709_551_615n,
  i32: -2_147_483_648,
  f64: 12_345_678_901_234n,
  f32: 4_294_967_295,
  b: true,
  s: 'héllo, wörld ✓ 😀 \ud800 end',
  by: new Uint8Array([0, 1, 2, 255]),
  u32: 4_294_967_295,
  sf32: -7,
  sf64: -1n,
  si32: -2_147_483_648,
  si64: -9_007_199_254_740_993n,
  color: -3,
  i64s: '-42',
};

describe('compileEncoder', () => {
  it.each<[string, string, Any]>([
    ['every scalar type at its extremes', 't.v1.Scalars', scalars],
    ['every scalar type at zero writes nothing', 't.v1.Scalars', {}],
    ['-0 is written, +0 is not', 't.v1.Scalars', { d: -0, f: -0 }],
    ['NaN and infinities', 't.v1.Scalars', { d: Number.NaN, f: Number.POSITIVE_INFINITY }],
    ['int64 just past the safe integers, and small ones', 't.v1.Scalars', { i64: 9_007_199_254_740_993n, u64: 9_007_199_254_740_992n, f64: 1n }],
    ['safe integers of every varint length', 't.v1.Scalars', { i64: 2n ** 52n + 5n, u64: 2n ** 35n, i32: 2 ** 28, u32: 2 ** 31 }],
    ['a string of 200 ASCII characters (two-byte length)', 't.v1.Scalars', { s: 'x'.repeat(200) }],
    ['a long non-ASCII string', 't.v1.Scalars', { s: 'é'.repeat(100_000) }],
    ['a non-ASCII character after 120 ASCII ones', 't.v1.Scalars', { s: `${'a'.repeat(120)}ü` }],
    ['optional fields set to zero are written', 't.v1.Optionals', { d: 0, s: '', i: 0, color: 0, b: false }],
    ['optional fields unset', 't.v1.Optionals', {}],
    [
      'lists: packed, unpacked, strings, bytes, messages',
      't.v1.Lists',
      {
        d: [1.5, -0, 2],
        i32: [1, -1, 300],
        i64: [-1n, 2n ** 60n],
        s: ['a', '', 'ü'],
        by: [new Uint8Array(0), new Uint8Array([9])],
        colors: [1, 0, -3],
        unpacked: [5, -5, 0],
        msgs: [{}, { s: 'in' }],
        si64: [-3n, 3n],
        b: [true, false],
        f32: [0, 7],
      },
    ],
    ['empty lists write nothing', 't.v1.Lists', {}],
    [
      'recursion, oneof cases, field order by number, a two-byte tag',
      't.v1.Tree',
      {
        name: 'root',
        late: 9,
        early: 3,
        children: [{ name: 'a', pick: { case: 'note', value: 'n' } }, { name: 'b', pick: { case: 'count', value: 0n } }],
        parent: { name: 'p', pick: { case: 'scalars', value: scalars } },
        pick: { case: 'lists', value: { s: ['x'.repeat(300)] } },
      },
    ],
    ['a oneof with no case', 't.v1.Tree', { name: 'x' }],
  ])('%s', (_, name, init) => {
    const { ours, theirs } = both(name, init);
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('agrees with toBinary on random trees', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const tree = (depth: number): Any => ({
      name: pick(['', 'a', 'ü', 'x'.repeat(130)]),
      late: pick([0, 1, -1, 2 ** 31 - 1]),
      children: depth > 0 ? Array.from({ length: Math.floor(rnd() * 3) }, () => tree(depth - 1)) : [],
      ...(depth > 0 && rnd() < 0.3 ? { parent: tree(depth - 1) } : {}),
      pick: pick([
        { case: undefined },
        { case: 'note', value: pick(['', 'n']) },
        { case: 'count', value: pick([0n, -5n, 2n ** 62n]) },
        { case: 'scalars', value: { i32: pick([0, -1, 127, 128]), d: pick([0, 0.1, -0]), by: new Uint8Array(Math.floor(rnd() * 200)) } },
        { case: 'lists', value: { i32: Array.from({ length: Math.floor(rnd() * 70) }, () => pick([0, -1, 1, 300])) } },
      ]),
    });
    for (let i = 0; i < 300; i++) {
      const { ours, theirs } = both('t.v1.Tree', tree(3));
      expect(ours.equals(theirs), `tree ${i}`).toBe(true);
    }
  });

  it('writes unknown fields after the known ones, as toBinary does', () => {
    const d = desc('t.v1.Scalars');
    const m = create(d, { i32: 5 }) as Any;
    m.$unknown = [{ no: 99, wireType: 2, data: new Uint8Array([2, 65, 66]) }];
    expect(Buffer.from(compileEncoder(d)!(m)).toString('hex')).toBe(Buffer.from(toBinary(d, m)).toString('hex'));
  });

  it('returns a copy: the next encoding does not change the bytes of the last', () => {
    const d = desc('t.v1.Scalars');
    const encode = compileEncoder(d)!;
    const a = encode(create(d, { s: 'first' }) as Message);
    const before = Buffer.from(a).toString('hex');
    encode(create(d, { s: 'second, longer' }) as Message);
    expect(Buffer.from(a).toString('hex')).toBe(before);
  });

  it('leaves values toBinary refuses to toBinary, so the error is its own', () => {
    const d = desc('t.v1.Scalars');
    const encode = compileEncoder(d)!;
    for (const bad of [{ i32: 1.5 }, { u32: -1 }, { f: 1e39 }, { sf32: 2 ** 31 }]) {
      const m = Object.assign(create(d) as Any, bad);
      let theirs = '';
      try {
        toBinary(d, m);
      } catch (e) {
        theirs = (e as Error).message;
      }
      expect(theirs).not.toBe('');
      expect(() => encode(m)).toThrow(theirs);
    }
  });

  it('does not compile maps (also inside another message) or proto2 required fields', () => {
    expect(compileEncoder(desc('t.v1.WithMap'))).toBeUndefined();
    expect(compileEncoder(desc('t.v1.Holder'))).toBeUndefined();
    expect(compileEncoder(desc('t.v2.Req'))).toBeUndefined();
  });

  it('binaryEncoder falls back to toBinary for a type that does not compile', () => {
    const d = desc('t.v1.Holder');
    const m = create(d, { inner: { a: 3, m: { k: 1, j: 2 } } }) as Message;
    expect(Buffer.from(binaryEncoder(d)(m)).toString('hex')).toBe(Buffer.from(toBinary(d, m)).toString('hex'));
  });
});

describe('preEncoder', () => {
  it.each<[string, string, Any]>([
    ['a one-byte first tag', 't.v1.Scalars', scalars],
    ['a two-byte first tag', 't.v1.Tree', { late: 1 }],
    ['an empty message', 't.v1.Scalars', {}],
  ])('toBinary writes exactly the given bytes: %s', (_, name, init) => {
    const d = desc(name);
    const bytes = toBinary(d, create(d, init) as Message);
    const m = preEncoder(d)(bytes);
    expect(m.$typeName).toBe(d.typeName);
    expect(Buffer.from(toBinary(d, m)).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
    // and a reader takes it for the message itself
    expect(fromBinary(d, toBinary(d, m))).toEqual(fromBinary(d, bytes));
  });
});
