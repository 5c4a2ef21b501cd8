// Contract JSON <-> protobuf messages, for the gRPC transport. protobuf-es does the proto3 JSON
// mapping (64-bit integers, bytes, google.protobuf.Value, maps); this module walks the message
// descriptors for the three places where the contract's JSON and proto3 JSON differ, with the
// plan the generator wrote (generator/schema/proto.ts, ProtoCodecPlan):
// - enum values travel as their proto names (`KIND_GAUGE`), the contract spells them `gauge`;
// - 64-bit integers are strings in proto3 JSON and numbers in the contract;
// - wrapper messages (a non-object payload, a list of lists) add a level: `{ value }`, `{ values }`;
// and a union of object types is a message with `oneof variant`, one member per type.
// Empty lists and maps are not distinguishable from absent ones in proto3: they arrive as [] / {}.

import {
  fromJson,
  ScalarType,
  toJson,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonValue,
  type Message,
} from '@bufbuild/protobuf';

export interface CodecPlan {
  /** Full enum name -> proto value name -> the contract's wire value. */
  readonly enums: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Full names of messages that only wrap one `value` or `values` field. */
  readonly wrappers: readonly string[];
}

export interface Codec {
  /** A contract value of the type `desc` was generated for -> a message. Throws on values proto cannot hold. */
  toMessage<T extends Message>(desc: DescMessage, value: unknown): T;
  /** A message -> the contract's JSON for it. */
  fromMessage(desc: DescMessage, message: Message): unknown;
  /** The JSON halves, for callers that hold proto3 JSON already. */
  toProtoJson(desc: DescMessage, value: unknown): JsonValue;
  fromProtoJson(desc: DescMessage, json: JsonValue): unknown;
}

const INT64 = new Set<ScalarType>([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const wellKnown = (desc: DescMessage) => desc.typeName.startsWith('google.protobuf.');

/** Sets `key` as an own property even when it is `__proto__`. */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function createCodec(plan: CodecPlan): Codec {
  const wrappers = new Set(plan.wrappers);
  const toProtoEnum = new Map<string, Map<string, string>>();
  const fromProtoEnum = new Map<string, Map<string, string>>();
  for (const [name, values] of Object.entries(plan.enums)) {
    toProtoEnum.set(name, new Map(Object.entries(values).map(([proto, wire]) => [wire, proto])));
    fromProtoEnum.set(name, new Map(Object.entries(values)));
  }

  // ---- contract -> proto3 JSON

  const enumTo = (desc: DescEnum, v: unknown): unknown =>
    typeof v === 'string' ? (toProtoEnum.get(desc.typeName)?.get(v) ?? v) : v;

  const singleTo = (f: DescField, kind: string, v: unknown): unknown => {
    if (v === null || v === undefined) return v;
    if (kind === 'enum') return enumTo((f as { enum: DescEnum }).enum, v);
    if (kind === 'message') return msgTo((f as { message: DescMessage }).message, v);
    return v;
  };

  const fieldTo = (f: DescField, v: unknown): unknown => {
    switch (f.fieldKind) {
      case 'list':
        return Array.isArray(v) ? v.map((x) => singleTo(f, f.listKind, x)) : v;
      case 'map': {
        if (!isObject(v)) return v;
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) put(out, k, singleTo(f, f.mapKind, x));
        return out;
      }
      default:
        return singleTo(f, f.fieldKind, v);
    }
  };

  const msgTo = (desc: DescMessage, v: unknown): unknown => {
    if (wellKnown(desc)) return v;
    if (wrappers.has(desc.typeName)) {
      const f = desc.fields[0]!;
      return { [f.jsonName]: fieldTo(f, v) };
    }
    if (!isObject(v)) return v;
    const variant = desc.oneofs.find((o) => o.name === 'variant');
    if (variant) {
      // The contract's JSON does not say which type a union value has: the first whose fields
      // hold every key present wins (the validators have checked the value against the union).
      const keys = Object.keys(v);
      const f =
        variant.fields.find((m) => m.message && keys.every((k) => m.message!.fields.some((x) => x.jsonName === k))) ??
        variant.fields[0]!;
      return { [f.jsonName]: fieldTo(f, v) };
    }
    const out: Record<string, unknown> = {};
    for (const f of desc.fields) {
      if (!Object.prototype.hasOwnProperty.call(v, f.jsonName)) continue;
      const x = v[f.jsonName];
      if (x !== undefined) put(out, f.jsonName, fieldTo(f, x));
    }
    return out;
  };

  // ---- proto3 JSON -> contract

  const singleFrom = (f: DescField, kind: string, v: unknown): unknown => {
    if (v === null || v === undefined) return v;
    if (kind === 'enum') {
      const e = (f as { enum: DescEnum }).enum;
      return typeof v === 'string' ? (fromProtoEnum.get(e.typeName)?.get(v) ?? v) : v;
    }
    if (kind === 'message') return msgFrom((f as { message: DescMessage }).message, v);
    if (typeof v === 'string' && INT64.has((f as { scalar: ScalarType }).scalar)) return Number(v);
    return v;
  };

  const fieldFrom = (f: DescField, v: unknown): unknown => {
    switch (f.fieldKind) {
      case 'list':
        return Array.isArray(v) ? v.map((x) => singleFrom(f, f.listKind, x)) : v;
      case 'map': {
        if (!isObject(v)) return v;
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) put(out, k, singleFrom(f, f.mapKind, x));
        return out;
      }
      default:
        return singleFrom(f, f.fieldKind, v);
    }
  };

  const msgFrom = (desc: DescMessage, v: unknown): unknown => {
    if (wellKnown(desc) || !isObject(v)) return v;
    if (wrappers.has(desc.typeName)) {
      const f = desc.fields[0]!;
      return fieldFrom(f, v[f.jsonName]);
    }
    const variant = desc.oneofs.find((o) => o.name === 'variant');
    if (variant) {
      const f = variant.fields.find((m) => Object.prototype.hasOwnProperty.call(v, m.jsonName));
      return f ? fieldFrom(f, v[f.jsonName]) : null;
    }
    const out: Record<string, unknown> = {};
    for (const f of desc.fields) {
      if (Object.prototype.hasOwnProperty.call(v, f.jsonName)) put(out, f.jsonName, fieldFrom(f, v[f.jsonName]));
    }
    return out;
  };

  return {
    toProtoJson: (desc, value) => msgTo(desc, value) as JsonValue,
    fromProtoJson: (desc, json) => msgFrom(desc, json),
    toMessage: <T extends Message>(desc: DescMessage, value: unknown) =>
      // Extra keys (additionalProperties beside declared ones) have no proto form: dropped.
      fromJson(desc, msgTo(desc, value) as JsonValue, { ignoreUnknownFields: true }) as T,
    // Implicit fields are written even when zero: a required `0` or `""` must reach the contract.
    fromMessage: (desc, message) => msgFrom(desc, toJson(desc, message as never, { alwaysEmitImplicit: true })),
  };
}
