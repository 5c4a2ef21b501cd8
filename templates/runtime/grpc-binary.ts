// Protobuf binary encoding of response messages, compiled once per message type.
//
// protobuf-es's toBinary walks the descriptor for every message and gives every double, string
// and nested message a chunk of its own: 8.7 µs for the bench's 44-byte quote, which made it
// most of a gRPC server's CPU. The encoder here is compiled from the same descriptor into one
// closure per field and writes into one scratch buffer: the same bytes (the tests compare them
// with toBinary's over every field kind), a twentieth of the time.
//
// The server hands the bytes to Connect as the unknown fields of a blank message, which toBinary
// writes out verbatim (`writeUnknownFields`, on by default), and keeps the same bytes for a
// resume. Types it does not cover (maps, groups, proto2 required fields) are left to toBinary.

import { create, protoInt64, ScalarType, toBinary, type DescField, type DescMessage, type Message } from '@bufbuild/protobuf';
import { isScalarZeroValue } from '@bufbuild/protobuf/reflect';
import { FLOAT32_MAX, WireType } from '@bufbuild/protobuf/wire';

/** A message's binary form, as toBinary writes it; the Buffer is the caller's. */
export type BinaryEncoder = (message: Message) => Buffer;

// ---- the scratch buffer every encoder writes into (encoding is synchronous: never shared)

let buf = Buffer.allocUnsafeSlow(1024);
let view = new DataView(buf.buffer);
let pos = 0;

const ensure = (n: number) => {
  if (pos + n <= buf.length) return;
  const next = Buffer.allocUnsafeSlow(Math.max(buf.length * 2, pos + n));
  buf.copy(next, 0, 0, pos);
  buf = next;
  view = new DataView(buf.buffer);
};

/** Thrown where toBinary would throw or might differ: that message is left to toBinary. */
const UNSUPPORTED = new Error('left to toBinary');

const varint32 = (v: number) => {
  // `v` is an unsigned 32-bit value.
  ensure(5);
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
};

/** The two's-complement 64-bit value lo, hi as a varint (protobuf's varint64write). */
const varint64 = (lo: number, hi: number) => {
  ensure(10);
  for (let i = 0; i < 28; i += 7) {
    const shift = lo >>> i;
    const more = !(shift >>> 7 === 0 && hi === 0);
    buf[pos++] = (more ? shift | 0x80 : shift) & 0xff;
    if (!more) return;
  }
  const split = ((lo >>> 28) & 0x0f) | ((hi & 0x07) << 4);
  const more = hi >> 3 !== 0;
  buf[pos++] = (more ? split | 0x80 : split) & 0xff;
  if (!more) return;
  for (let i = 3; i < 31; i += 7) {
    const shift = hi >>> i;
    const more = shift >>> 7 !== 0;
    buf[pos++] = (more ? shift | 0x80 : shift) & 0xff;
    if (!more) return;
  }
  buf[pos++] = (hi >>> 31) & 0x01;
};

/** A non-negative safe integer as a varint, without BigInt. */
const varintNumber = (n: number) => {
  if (n <= 0x7fffffff) return varint32(n);
  ensure(8);
  while (n > 0x7f) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
};

const int32 = (v: unknown) => {
  if (typeof v !== 'number' || (v | 0) !== v) throw UNSUPPORTED;
  if (v >= 0) varint32(v);
  else varint64(v >>> 0, -1); // sign-extended to ten bytes
};

const uint32 = (v: unknown) => {
  if (typeof v !== 'number' || v >>> 0 !== v) throw UNSUPPORTED;
  varint32(v);
};

/** int64 and uint64: bigint (or string, for `jstype = JS_STRING`), as protoInt64 reads them. */
const int64 = (signed: boolean) => (v: unknown) => {
  if (typeof v === 'bigint' && v >= 0n && v <= 0x1fffffffffffffn) return varintNumber(Number(v));
  const { lo, hi } = signed ? protoInt64.enc(v as bigint | string) : protoInt64.uEnc(v as bigint | string);
  varint64(lo, hi);
};

const sint32 = (v: unknown) => {
  if (typeof v !== 'number' || (v | 0) !== v) throw UNSUPPORTED;
  varint32(((v << 1) ^ (v >> 31)) >>> 0);
};

const sint64 = (v: unknown) => {
  const { lo, hi } = protoInt64.enc(v as bigint | string);
  const sign = hi >> 31;
  varint64((lo << 1) ^ sign, ((hi << 1) | (lo >>> 31)) ^ sign);
};

const fixed = (width: 4 | 8, write: (v: unknown) => void) => (v: unknown) => {
  ensure(width);
  write(v);
  pos += width;
};

const utf8 = (s: unknown) => {
  if (typeof s !== 'string') throw UNSUPPORTED;
  const n = s.length;
  // ASCII, the common case, byte by byte; anything else by Buffer (U+FFFD for a lone surrogate, as TextEncoder).
  if (n < 128) {
    ensure(n + 1);
    const start = pos;
    buf[pos++] = n;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[pos++] = c;
    }
    if (i === n) return;
    pos = start;
  }
  const bytes = Buffer.byteLength(s, 'utf8');
  varint32(bytes);
  ensure(bytes);
  pos += buf.write(s, pos, bytes, 'utf8');
};

const bytes = (v: unknown) => {
  if (!(v instanceof Uint8Array)) throw UNSUPPORTED;
  varint32(v.length);
  ensure(v.length);
  buf.set(v, pos);
  pos += v.length;
};

/** Writes one value of a scalar type, without its tag; and the wire type it takes. */
const scalar = (type: ScalarType): [write: (v: unknown) => void, wireType: WireType] => {
  switch (type) {
    case ScalarType.DOUBLE:
      return [fixed(8, (v) => view.setFloat64(pos, num(v), true)), WireType.Bit64];
    case ScalarType.FLOAT:
      return [fixed(4, (v) => view.setFloat32(pos, float32(v), true)), WireType.Bit32];
    case ScalarType.INT64:
      return [int64(true), WireType.Varint];
    case ScalarType.UINT64:
      return [int64(false), WireType.Varint];
    case ScalarType.INT32:
      return [int32, WireType.Varint];
    case ScalarType.FIXED64:
      return [fixed(8, (v) => view.setBigUint64(pos, BigInt.asUintN(64, protoInt64.uParse(v as bigint)), true)), WireType.Bit64];
    case ScalarType.FIXED32:
      return [fixed(4, (v) => view.setUint32(pos, u32(v), true)), WireType.Bit32];
    case ScalarType.BOOL:
      return [(v) => ((ensure(1), (buf[pos++] = v ? 1 : 0))), WireType.Varint];
    case ScalarType.STRING:
      return [utf8, WireType.LengthDelimited];
    case ScalarType.BYTES:
      return [bytes, WireType.LengthDelimited];
    case ScalarType.UINT32:
      return [uint32, WireType.Varint];
    case ScalarType.SFIXED32:
      return [fixed(4, (v) => view.setInt32(pos, i32(v), true)), WireType.Bit32];
    case ScalarType.SFIXED64:
      return [fixed(8, (v) => view.setBigInt64(pos, BigInt.asIntN(64, protoInt64.parse(v as bigint)), true)), WireType.Bit64];
    case ScalarType.SINT32:
      return [sint32, WireType.Varint];
    case ScalarType.SINT64:
      return [sint64, WireType.Varint];
  }
};
const num = (v: unknown): number => {
  if (typeof v !== 'number') throw UNSUPPORTED;
  return v;
};
const float32 = (v: unknown): number => {
  if (typeof v !== 'number' || (Number.isFinite(v) && Math.abs(v) > FLOAT32_MAX)) throw UNSUPPORTED;
  return v;
};
const i32 = (v: unknown): number => {
  if (typeof v !== 'number' || (v | 0) !== v) throw UNSUPPORTED;
  return v;
};
const u32 = (v: unknown): number => {
  if (typeof v !== 'number' || v >>> 0 !== v) throw UNSUPPORTED;
  return v;
};

const tag = (no: number, wireType: WireType) => varint32(((no << 3) | wireType) >>> 0);

/** Runs `write`, then puts the length of what it wrote in front of it. */
const delimited = (write: () => void) => {
  ensure(1);
  const start = pos++;
  write();
  const len = pos - start - 1;
  if (len < 0x80) {
    buf[start] = len;
    return;
  }
  // Rare: a length of more than one byte; the body moves up to make room for it.
  let k = 1;
  while (len >= 2 ** (7 * k)) k++;
  ensure(k - 1);
  buf.copyWithin(start + k, start + 1, pos);
  const end = pos + k - 1;
  pos = start;
  varint32(len);
  pos = end;
};

type Fields = (m: Record<string, unknown>) => void;

const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;

/**
 * The writer of every field of `desc`, in field-number order as toBinary writes them, then its
 * unknown fields; undefined when a field kind is not covered. `compiled` holds the types being
 * compiled, so a recursive type refers to its own writer.
 */
function compileFields(desc: DescMessage, compiled: Map<DescMessage, { write: Fields } | undefined>): { write: Fields } | undefined {
  if (compiled.has(desc)) return compiled.get(desc);
  const slot: { write: Fields } = { write: () => {} };
  compiled.set(desc, slot);
  const writers: Fields[] = [];
  for (const f of [...desc.fields].sort((a, b) => a.number - b.number)) {
    const w = compileField(f, compiled);
    if (!w) {
      compiled.set(desc, undefined);
      return undefined;
    }
    writers.push(w);
  }
  slot.write = (m) => {
    for (let i = 0; i < writers.length; i++) writers[i]!(m);
    const unknown = m.$unknown as { no: number; wireType: number; data: Uint8Array }[] | undefined;
    if (unknown) for (const u of unknown) (tag(u.no, u.wireType as WireType), raw(u.data));
  };
  return slot;
}

const raw = (data: Uint8Array) => {
  ensure(data.length);
  buf.set(data, pos);
  pos += data.length;
};

function compileField(f: DescField, compiled: Map<DescMessage, { write: Fields } | undefined>): Fields | undefined {
  if (f.presence === LEGACY_REQUIRED) return undefined;
  const name = f.localName;
  const no = f.number;
  /** The value of the field when set, as unsafeIsSet decides; else undefined. */
  const value = (w: (v: unknown) => void, implicitZero: (v: unknown) => boolean): Fields => {
    if (f.oneof) {
      const group = f.oneof.localName;
      return (m) => {
        const c = m[group] as { case: string | undefined; value?: unknown };
        if (c.case === name) w(c.value);
      };
    }
    if (f.presence !== IMPLICIT)
      return (m) => {
        const v = m[name];
        if (v !== undefined && Object.prototype.hasOwnProperty.call(m, name)) w(v);
      };
    return (m) => {
      const v = m[name];
      if (!implicitZero(v)) w(v);
    };
  };
  const message = (desc: DescMessage, delimitedEncoding: boolean): ((v: unknown) => void) | undefined => {
    if (delimitedEncoding) return undefined;
    const sub = compileFields(desc, compiled);
    if (!sub) return undefined;
    return (v) => {
      tag(no, WireType.LengthDelimited);
      delimited(() => sub.write(v as Record<string, unknown>));
    };
  };
  switch (f.fieldKind) {
    case 'scalar': {
      const [w, wireType] = scalar(f.scalar);
      return value(
        (v) => (tag(no, wireType), w(v)),
        (v) => isScalarZeroValue(f.scalar, v),
      );
    }
    case 'enum': {
      const zero = f.enum.values[0]!.number;
      return value(
        (v) => (tag(no, WireType.Varint), int32(v)),
        (v) => v === zero,
      );
    }
    case 'message': {
      const w = message(f.message, f.delimitedEncoding);
      return w && value(w, () => false);
    }
    case 'list': {
      let each: ((v: unknown) => void) | undefined;
      let packed: ((v: unknown) => void) | undefined;
      if (f.listKind === 'message') each = message(f.message, f.delimitedEncoding);
      else {
        const [w, wireType] = f.listKind === 'enum' ? [int32, WireType.Varint] : scalar(f.scalar);
        if (f.packed) packed = w;
        else each = (v) => (tag(no, wireType), w(v));
      }
      if (!each && !packed) return undefined;
      return (m) => {
        const list = m[name] as unknown[];
        if (list.length === 0) return;
        if (each) for (let i = 0; i < list.length; i++) each(list[i]);
        else {
          tag(no, WireType.LengthDelimited);
          delimited(() => {
            for (let i = 0; i < list.length; i++) packed!(list[i]);
          });
        }
      };
    }
    case 'map':
      return undefined; // toBinary turns map keys back from property names: left to it
  }
}

/** Above this the scratch buffer is let go after use: one huge message does not hold its size for good. */
const KEEP_BYTES = 65_536;

/**
 * The binary encoder of `desc`'s messages; undefined when it has a field kind this does not
 * cover. A message whose values toBinary would refuse (an int32 of 1.5) or read differently is
 * encoded by toBinary, so an error is toBinary's own.
 */
export function compileEncoder(desc: DescMessage): BinaryEncoder | undefined {
  const fields = compileFields(desc, new Map());
  if (!fields) return undefined;
  return (message) => {
    pos = 0;
    try {
      fields.write(message as unknown as Record<string, unknown>);
    } catch {
      return Buffer.from(toBinary(desc, message));
    }
    // From Buffer's pool: a copy costs about what a Uint8Array's allocation alone does.
    const out = Buffer.allocUnsafe(pos);
    buf.copy(out, 0, 0, pos);
    if (buf.length > KEEP_BYTES) {
      buf = Buffer.allocUnsafeSlow(1024);
      view = new DataView(buf.buffer);
    }
    return out;
  };
}

/** `desc`'s encoder: the compiled one, or toBinary itself for a type that does not compile. */
export function binaryEncoder(desc: DescMessage): BinaryEncoder {
  return compileEncoder(desc) ?? ((m) => Buffer.from(toBinary(desc, m)));
}

/**
 * Messages of type `desc` that toBinary writes as exactly the bytes given (a message of that
 * type, in binary form): blank ones carrying them as unknown fields. The first tag becomes the
 * unknown field's number and wire type, the rest its data, which toBinary writes after the tag
 * as it is. The blank's members are `create(desc)`'s, shared: toBinary only reads them. Only for
 * a serializer that writes unknown fields (Connect's default) and has no interceptor to show
 * such a message to.
 */
export function preEncoder(desc: DescMessage): (bytes: Uint8Array) => Message {
  const zero = create(desc) as unknown as Record<string, unknown>;
  const names = Object.keys(zero);
  const values = names.map((k) => zero[k]);
  return (bytes) => {
    const m: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) m[names[i]!] = values[i];
    let t = 0;
    let i = 0;
    for (let shift = 0; i < bytes.length; shift += 7) {
      const b = bytes[i++]!;
      t += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    if (bytes.length > 0) m.$unknown = [{ no: Math.floor(t / 8), wireType: t % 8, data: bytes.subarray(i) }];
    return m as unknown as Message;
  };
}
