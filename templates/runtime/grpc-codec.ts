// Contract JSON <-> protobuf messages, for the gRPC transport, converted directly: the walk over
// the message descriptors builds the message (`create`) from the contract's JSON and reads the
// contract's JSON off a message, with no proto3 JSON text or object in between (that round trip
// cost a third of the server's throughput). Where the contract's JSON and protobuf differ, the
// plan the generator wrote (generator/schema/proto.ts, ProtoCodecPlan) says how:
// - enum values are the contract's strings (`gauge`) and proto numbers (`KIND_GAUGE` = 2);
// - 64-bit integers are numbers in the contract and bigints (or strings) in protobuf-es;
// - `format: byte` strings are base64 in the contract and bytes in proto;
// - wrapper messages (a non-object payload, a list of lists) add a level: `{ value }`, `{ values }`;
// - a union of object types is a message with `oneof variant`, one member per type;
// - untyped values (google.protobuf.Value and the other well-known types) go through protobuf-es's
//   own proto3 JSON mapping, which is exactly the contract's JSON for them.
// Empty lists and maps are not distinguishable from absent ones in proto3: they arrive as [] / {}.

import {
  create,
  fromJson,
  ScalarType,
  toJson,
  type DescEnum,
  type DescField,
  type DescMessage,
  type DescOneof,
  type JsonValue,
  type Message,
} from '@bufbuild/protobuf';
import { base64Decode, base64Encode } from '@bufbuild/protobuf/wire';
import type { GrpcWirePlan } from './grpc-server.js';

export interface CodecPlan {
  /** Full enum name -> proto value name -> the contract's wire value. */
  readonly enums: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Full names of messages that only wrap one `value` or `values` field. */
  readonly wrappers: readonly string[];
}

export interface Codec {
  /** A contract value of the type `desc` was generated for -> a message. Throws on values proto cannot hold. */
  toMessage<T extends Message>(desc: DescMessage, value: unknown): T;
  /** A message -> the contract's JSON for it. Implicit fields are present even when zero. */
  fromMessage(desc: DescMessage, message: Message): unknown;
}

// google.protobuf.Edition.EDITION_PROTO3, as protobuf-es reports a proto3 file's edition.
const EDITION_PROTO3 = 999;
const INT64 = new Set<ScalarType>([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const NULL_VALUE = 'google.protobuf.NullValue';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const wellKnown = (desc: DescMessage) => desc.typeName.startsWith('google.protobuf.');
const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Sets `key` as an own property even when it is `__proto__`. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** What the walk needs of one message type, worked out once. */
interface Shape {
  /** google.protobuf.*: protobuf-es's own JSON mapping. */
  readonly wellKnown: boolean;
  readonly wrapper: DescField | undefined;
  readonly variant: DescOneof | undefined;
  /** Fields outside any oneof, and the members of each oneof, by JSON name. */
  readonly fields: readonly DescField[];
  /** A new message of the type to set fields on; `seal` it then, and it is what `create(desc, init)` makes. */
  readonly blank: () => Record<string, unknown>;
  readonly seal: (msg: Record<string, unknown>) => void;
}

/**
 * Builds messages equal to `create(desc, init)`'s, cheaper: the zero message's members added in
 * `create`'s order (so the object has protobuf-es's own hidden class: a message of another shape
 * made its toBinary and fromBinary polymorphic, and slower than the conversion saved), the fields
 * set on it, then fresh lists, maps, oneof holders and bytes where a member still holds the zero
 * message's (a mutable zero made for a field that is then set would only be garbage). A proto3
 * message is a flat object; other editions can keep defaults on a prototype chain, so they
 * start from `create(desc)`.
 */
function builder(desc: DescMessage): Pick<Shape, 'blank' | 'seal'> {
  const made = () => create(desc) as unknown as Record<string, unknown>;
  if (desc.file.edition !== EDITION_PROTO3) return { blank: made, seal: () => {} };
  const template = made();
  // Members whose zero is a mutable object, and which object: 0 list, 1 oneof, 2 map, 3 bytes.
  const keys: string[] = [];
  const kinds: number[] = [];
  for (const [k, v] of Object.entries(template)) {
    if (typeof v !== 'object' || v === null) continue;
    keys.push(k);
    kinds.push(Array.isArray(v) ? 0 : v instanceof Uint8Array ? 3 : 'case' in v ? 1 : 2);
  }
  // create's members in its order, and their zero values (the mutable ones only stand in until `seal`).
  const names = Object.keys(template).filter((k) => k !== '$typeName');
  const zeros = names.map((k) => template[k]);
  const typeName = desc.typeName;
  return {
    blank: () => {
      const m: Record<string, unknown> = { $typeName: typeName };
      for (let i = 0; i < names.length; i++) m[names[i]!] = zeros[i];
      return m;
    },
    seal: (m) => {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (m[k] !== template[k]) continue;
        const kind = kinds[i];
        m[k] = kind === 0 ? [] : kind === 1 ? { case: undefined } : kind === 2 ? {} : new Uint8Array(0);
      }
    },
  };
}

export function createCodec(plan: CodecPlan): Codec {
  const wrappers = new Set(plan.wrappers);
  const shapes = new Map<DescMessage, Shape>();
  const shape = (desc: DescMessage): Shape => {
    let s = shapes.get(desc);
    if (!s) {
      const variant = desc.oneofs.find((o) => o.name === 'variant');
      s = {
        wellKnown: wellKnown(desc),
        wrapper: wrappers.has(desc.typeName) ? desc.fields[0] : undefined,
        variant,
        fields: desc.fields,
        ...builder(desc),
      };
      shapes.set(desc, s);
    }
    return s;
  };
  // Per enum: the contract's value -> number, and number -> the contract's value.
  const enumMaps = new Map<DescEnum, { to: Map<string, number>; from: Map<number, string> }>();
  const enumMap = (e: DescEnum) => {
    let m = enumMaps.get(e);
    if (!m) {
      const spelled = plan.enums[e.typeName] ?? {};
      m = { to: new Map(), from: new Map() };
      for (const v of e.values) {
        const wire = spelled[v.name] ?? v.name;
        m.to.set(wire, v.number);
        m.to.set(v.name, v.number);
        m.from.set(v.number, wire);
      }
      enumMaps.set(e, m);
    }
    return m;
  };

  // ---- contract -> message (built in place: an init object walked again by `create` cost as much as the walk)

  const scalarTo = (f: DescField, type: ScalarType, v: unknown): unknown => {
    if (INT64.has(type)) {
      if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'bigint') throw new TypeError(`${f.name}: ${JSON.stringify(v)} is not an integer`);
      return (f as { longAsString?: boolean }).longAsString ? String(v) : BigInt(v);
    }
    if (type === ScalarType.BYTES) {
      if (typeof v !== 'string') throw new TypeError(`${f.name}: bytes must be a base64 string`);
      return base64Decode(v);
    }
    return v;
  };

  const enumTo = (e: DescEnum, v: unknown): number => {
    if (e.typeName === NULL_VALUE) return 0;
    const n = typeof v === 'string' ? enumMap(e).to.get(v) : typeof v === 'number' ? v : undefined;
    if (n === undefined) throw new TypeError(`${JSON.stringify(v)} is not a value of enum ${e.typeName}`);
    return n;
  };

  const singleTo = (f: DescField, v: unknown): unknown => {
    switch (f.fieldKind === 'list' ? f.listKind : f.fieldKind === 'map' ? f.mapKind : f.fieldKind) {
      case 'message': {
        const m = (f as { message: DescMessage }).message;
        // null is a value a wrapper or an untyped field carries (google.protobuf.Value), not an absent message.
        return v === null && !wrappers.has(m.typeName) && !wellKnown(m) ? undefined : msgTo(m, v);
      }
      case 'enum':
        return enumTo((f as { enum: DescEnum }).enum, v);
      default:
        return v === null ? undefined : scalarTo(f, (f as { scalar: ScalarType }).scalar, v);
    }
  };

  const fieldTo = (f: DescField, v: unknown): unknown => {
    if (f.fieldKind === 'list') {
      if (!Array.isArray(v)) return [];
      // Pushed, not preallocated: a holey array would be slower for protobuf-es to walk.
      const out: unknown[] = [];
      for (let i = 0; i < v.length; i++) out.push(singleTo(f, v[i]));
      return out;
    }
    if (f.fieldKind === 'map') {
      const out: Record<string, unknown> = {};
      if (isObject(v)) for (const k of Object.keys(v)) put(out, k, singleTo(f, v[k]));
      return out;
    }
    return singleTo(f, v);
  };

  /** What `create`'s init would do for the field, given values already in protobuf-es form. */
  const setField = (msg: Record<string, unknown>, f: DescField, v: unknown) => {
    const x = fieldTo(f, v);
    if (x === undefined) return;
    if (f.oneof) msg[f.oneof.localName] = { case: f.localName, value: x };
    else msg[f.localName] = x;
  };

  const msgTo = (desc: DescMessage, v: unknown): Message => {
    const s = shape(desc);
    if (s.wellKnown) return fromJson(desc, v as JsonValue);
    const msg = s.blank();
    if (s.wrapper) setField(msg, s.wrapper, v);
    else if (s.variant) {
      if (!isObject(v)) throw new TypeError(`${desc.typeName}: ${JSON.stringify(v)} is not an object`);
      // The contract's JSON does not say which type a union value has: the first whose fields
      // hold every key present wins (the validators have checked the value against the union).
      const keys = Object.keys(v);
      const f =
        s.variant.fields.find((m) => m.message && keys.every((k) => m.message!.fields.some((x) => x.jsonName === k))) ?? s.variant.fields[0]!;
      setField(msg, f, v);
    } else {
      if (!isObject(v)) throw new TypeError(`${desc.typeName}: ${JSON.stringify(v)} is not an object`);
      // Extra keys (additionalProperties beside declared ones) have no proto form: dropped.
      for (const f of s.fields) if (own(v, f.jsonName) && v[f.jsonName] !== undefined) setField(msg, f, v[f.jsonName]);
    }
    s.seal(msg);
    return msg as unknown as Message;
  };

  // ---- message -> contract

  const singleFrom = (f: DescField, v: unknown): unknown => {
    switch (f.fieldKind === 'list' ? f.listKind : f.fieldKind === 'map' ? f.mapKind : f.fieldKind) {
      case 'message':
        return msgFrom((f as { message: DescMessage }).message, v as Message);
      case 'enum': {
        const e = (f as { enum: DescEnum }).enum;
        return e.typeName === NULL_VALUE ? null : (enumMap(e).from.get(v as number) ?? v);
      }
      default:
        if (typeof v === 'bigint') return Number(v);
        if (v instanceof Uint8Array) return base64Encode(v);
        if (INT64.has((f as { scalar: ScalarType }).scalar) && typeof v === 'string') return Number(v);
        return v;
    }
  };

  const fieldFrom = (f: DescField, v: unknown): unknown => {
    if (f.fieldKind === 'list') return (v as unknown[]).map((x) => singleFrom(f, x));
    if (f.fieldKind === 'map') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object)) put(out, k, singleFrom(f, (v as Record<string, unknown>)[k]));
      return out;
    }
    return singleFrom(f, v);
  };

  const msgFrom = (desc: DescMessage, m: Message): unknown => {
    if (wellKnown(desc)) return toJson(desc, m as never);
    const s = shape(desc);
    const raw = m as unknown as Record<string, unknown>;
    if (s.wrapper) {
      const f = s.wrapper;
      const v = raw[f.localName];
      return v === undefined ? undefined : fieldFrom(f, v);
    }
    if (s.variant) {
      const c = raw[s.variant.localName] as { case: string | undefined; value?: unknown };
      const f = c.case === undefined ? undefined : s.variant.fields.find((x) => x.localName === c.case);
      return f ? fieldFrom(f, c.value) : null;
    }
    const out: Record<string, unknown> = {};
    for (const f of s.fields) {
      let v: unknown;
      if (f.oneof) {
        const c = raw[f.oneof.localName] as { case: string | undefined; value?: unknown };
        if (c.case !== f.localName) continue;
        v = c.value;
      } else v = raw[f.localName];
      // Unset optional fields and messages are absent; implicit fields are present even when zero.
      if (v !== undefined) put(out, f.jsonName, fieldFrom(f, v));
    }
    return out;
  };

  return {
    toMessage: <T extends Message>(desc: DescMessage, value: unknown) => msgTo(desc, value) as T,
    fromMessage: (desc, message) => msgFrom(desc, message),
  };
}

// ---------------------------------------------------------------------------------------------
// The open message: where params, request and resume token sit (the stream's wire plan)

/** The contract JSON of a call's open message: params, request and resume token where the wire plan puts them. */
export function openMessageJson(wire: GrpcWirePlan, params: unknown, request: unknown, resumeFrom: string | undefined): Record<string, unknown> {
  const json: Record<string, unknown> = {};
  const given = (params ?? {}) as Record<string, unknown>;
  for (const [name, key] of Object.entries(wire.params)) if (given[name] !== undefined) json[key] = given[name];
  const via = wire.requestVia;
  if (via === 'inline') Object.assign(json, request as Record<string, unknown>);
  else if (via) json[via.field] = request;
  if (wire.resumeToken !== undefined && resumeFrom !== undefined) json[wire.resumeToken] = resumeFrom;
  return json;
}

/** The params, request and resume token an open message's contract JSON carries: the reverse of openMessageJson. */
export function readOpenMessageJson(wire: GrpcWirePlan, open: Record<string, unknown>): { params: Record<string, unknown>; request: unknown; token: unknown } {
  const params: Record<string, unknown> = {};
  const paramKeys = new Set<string>();
  for (const [name, key] of Object.entries(wire.params)) {
    paramKeys.add(key);
    if (own(open, key)) params[name] = open[key];
  }
  let request: unknown;
  const via = wire.requestVia;
  if (via === 'inline') {
    request = {};
    for (const [k, v] of Object.entries(open)) if (!paramKeys.has(k) && k !== wire.resumeToken) (request as Record<string, unknown>)[k] = v;
  } else if (via) request = open[via.field];
  return { params, request, token: wire.resumeToken === undefined ? undefined : open[wire.resumeToken] };
}
