// Contract -> the view model of one .proto file (templates/proto/file.proto.hbs). Every decision
// is made here; the template only lays out what it is given. The output must pass `buf lint`
// (STANDARD), `buf build`, and be byte-identical to what `buf format` prints.
//
// Mapping, decided once:
// - File: `<package segments as folders>/<contract id in snake_case>.proto` (buf lint wants
//   PACKAGE_DIRECTORY_MATCH and FILE_LOWER_SNAKE_CASE). Package: `contract.package.name`.
// - Service: `<Name>Service`, Name from the last package segment that is not a version
//   (`assistant.v1` -> `AssistantService`): stable across title edits, SERVICE_SUFFIX satisfied.
// - One rpc per stream, named after it. server-to-client: `rpc X(XRequest) returns (stream
//   XResponse)`; client-to-server: `rpc X(stream XRequest) returns (XResponse)`; bidirectional:
//   both streamed. `XRequest`/`XResponse` are always generated, so RPC_REQUEST_STANDARD_NAME and
//   RPC_REQUEST_RESPONSE_UNIQUE hold.
// - Request: the params, then the request object's properties inlined (or one `request` field
//   when the request is not an object or its keys clash with a param), then `string
//   resume_token` when resume is not none. For client-to-server and bidirectional streams those
//   fields move into a nested `Open` message, and the request is `oneof event { Open open; <one
//   field per client message> }`.
// - Response: `uint64 seq`, `uint32 dropped` (lossy streams only), then `oneof event` of every
//   message, the terminal message, the in-band error message (`{ Code code; string message;
//   optional bool retryable }`, Code a nested enum of the stream's codes) and `Heartbeat
//   heartbeat` (one shared empty top-level message).
// - A payload that is a ref to an object type (or to a union of object types) uses that message;
//   any other payload gets a nested wrapper message with one `value` field; no payload gets an
//   empty nested message.
// - Types: string -> string (`format: byte` -> bytes); integers keep their format; number ->
//   float/double; boolean -> bool; string enum -> enum with `<ENUM>_UNSPECIFIED = 0` and values
//   prefixed by the enum name in buf's UPPER_SNAKE spelling; array -> repeated (an array, or map,
//   of arrays or maps gets a nested wrapper with one `values` field); map -> map<string, V>;
//   optional or `[T, null]` scalars and enums -> proto3 `optional`; a union of object refs (plus
//   null) -> a wrapper with `oneof variant`; any other union, `{}` and nullable items or map
//   values -> google.protobuf.Value (null alone -> google.protobuf.NullValue; a const -> its
//   scalar type). Inline objects and enums become nested types named after their field.
//   Named aliases (a component that is not an object, enum or union of objects) are inlined.
// - Extra keys (`additionalProperties` beside declared properties) have no proto form and are
//   dropped. Proto3 JSON differs from the contract's JSON in three known places: enum values
//   travel as their proto names, 64-bit integers as strings, and wrappers add a level.
// - Field names are `name.snake`; `[json_name = "<wire>"]` is added whenever the wire key differs
//   from protoc's default JSON name, so proto3 JSON keys match the contract. Names that collide
//   after conversion (as names or as JSON names) get `_2`, `_3`, ...: generated fields first,
//   then the contract's in code-point order of their wire keys (so reordering renames nothing).
//   Enum values are deduplicated the same way, ignoring underscores (protoc's rule).
// - Top-level names: the generated ones (service, rpc messages, Heartbeat) win; a component
//   whose name is taken gets a `Type` suffix. Only messages reachable from an rpc are emitted (a
//   request object whose fields were inlined is not, so `CompletionRequest` can be both).
// - Type references print the shortest name protoc resolves to the right type from where the
//   field is, else the fully-qualified `.package.Name`.
// - Field and enum-value numbers come from the lock (proto-lock.ts) and never change.

import { looseNames, names } from '../ir/names.ts';
import type { Contract, NamedType, Names, Property, SchemaNode, Stream } from '../ir/types.ts';
import { header } from '../render/header.ts';
import { protoIdent } from '../render/escape.ts';
import { assignNumbers, EMPTY_PROTO_LOCK, type LockEntry, type ProtoLock } from './proto-lock.ts';

export { parseProtoLock, printProtoLock, ProtoLockError, type ProtoLock } from './proto-lock.ts';

// ---------------------------------------------------------------------------------------------
// View model: exactly what the template prints, in order.

export interface ProtoFileView {
  readonly header: string;
  /** Package segments, joined with `.` by the template. */
  readonly packageParts: readonly string[];
  readonly hasImports: boolean;
  readonly imports: readonly string[];
  readonly service: ServiceView;
  readonly declarations: readonly DeclView[];
}
export interface ServiceView {
  readonly name: string;
  readonly comment: readonly string[];
  readonly rpcs: readonly RpcView[];
}
export interface RpcView {
  readonly name: string;
  readonly comment: readonly string[];
  readonly request: string;
  readonly requestStream: boolean;
  readonly response: string;
  readonly responseStream: boolean;
}
/** Exactly one of the two is set. */
export interface DeclView {
  readonly message: MessageView | null;
  readonly enum: EnumView | null;
}
export interface MessageView {
  readonly name: string;
  readonly indent: string;
  readonly comment: readonly string[];
  /** No members, no reserved, no nested types: printed `message X {}` as buf format does. */
  readonly empty: boolean;
  readonly members: readonly MemberView[];
  readonly reserved: ReservedView | null;
  readonly nested: readonly DeclView[];
}
export interface MemberView {
  readonly field: FieldView | null;
  readonly oneof: OneofView | null;
}
export interface FieldView {
  readonly indent: string;
  readonly comment: readonly string[];
  /** `optional `, `repeated ` or ''. */
  readonly label: string;
  /** A scalar, `map<string, V>` or a type name; built from protoIdent-checked segments. */
  readonly type: string;
  readonly name: string;
  readonly number: string;
  readonly jsonName: string | null;
}
export interface OneofView {
  readonly indent: string;
  readonly name: string;
  readonly fields: readonly FieldView[];
}
export interface EnumView {
  readonly name: string;
  readonly indent: string;
  readonly comment: readonly string[];
  readonly values: readonly { readonly indent: string; readonly name: string; readonly number: string }[];
  readonly reserved: ReservedView | null;
}
export interface ReservedView {
  readonly indent: string;
  /** `3, 5`, or null when only names are reserved. */
  readonly numbers: string | null;
  readonly hasNames: boolean;
  readonly names: readonly string[];
}

export interface ProtoModel {
  readonly view: ProtoFileView;
  readonly lock: ProtoLock;
  /** Relative to the proto root, e.g. `assistant/v1/assistant.proto`. */
  readonly path: string;
  /** How the contract's JSON maps onto proto3 JSON of this file (the gRPC runtime converts with it). */
  readonly codec: ProtoCodecPlan;
}

/**
 * What a runtime needs, beside the file's descriptors, to turn contract JSON into proto3 JSON and
 * back: the three places they differ (enum spellings, wrapper messages, event oneofs). Keys of
 * proto3 JSON are JSON names (`jsonName` in descriptors). Field numbers play no part, so the plan
 * does not depend on the lock.
 */
export interface ProtoCodecPlan {
  /** Full enum name -> proto value name -> the contract's wire value. */
  readonly enums: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Full names of messages that only wrap one `value` or `values` field (sorted). */
  readonly wrappers: readonly string[];
  /** By stream wire name. */
  readonly streams: Readonly<Record<string, ProtoStreamPlan>>;
}

export interface ProtoStreamPlan {
  /** Full names of the rpc's request and response messages. */
  readonly request: string;
  readonly response: string;
  /** Full name of the message holding params, request and resume token: the request itself, or its nested `Open`. */
  readonly open: string;
  /** JSON name of the request's `open` oneof member (client-to-server and bidirectional only). */
  readonly openCase: string | undefined;
  /** Param wire name -> JSON name in the open message. */
  readonly params: Readonly<Record<string, string>>;
  /** 'inline': the request's properties are fields of the open message; else the JSON name of its one `request` field; undefined: no request. */
  readonly requestVia: 'inline' | { readonly field: string } | undefined;
  /** JSON name of the resume token field, when the stream resumes. */
  readonly resumeToken: string | undefined;
  /** Server message wire name (messages, terminal, in-band error) -> JSON name of its `event` member. */
  readonly events: Readonly<Record<string, string>>;
  /** Client message wire name -> JSON name of its `event` member. */
  readonly clientEvents: Readonly<Record<string, string>>;
  readonly heartbeat: string;
  /** JSON name of `dropped` (lossy streams only). */
  readonly dropped: string | undefined;
}

export function buildProtoModel(contract: Contract, lock: ProtoLock | undefined): ProtoModel {
  return new ProtoBuilder(contract, lock ?? EMPTY_PROTO_LOCK).build();
}

// ---------------------------------------------------------------------------------------------
// Drafts: the file as a tree, before numbers and names are printed.

type TypeRef =
  | { readonly kind: 'scalar'; readonly name: string; readonly presence: boolean }
  | { readonly kind: 'decl'; readonly path: readonly string[]; readonly isEnum: boolean }
  | { readonly kind: 'external'; readonly name: string; readonly isEnum: boolean };

/** A field's mapped type: `repeated` and `map` are labels of the field, not of the type. */
interface Mapped {
  readonly type: TypeRef;
  readonly repeated: boolean;
  readonly mapValue: TypeRef | undefined;
  /** The value may be null, so the field needs presence. */
  readonly nullable: boolean;
}

interface FieldDraft {
  readonly name: string;
  readonly jsonName: string | null;
  readonly comment: readonly string[];
  readonly mapped: Mapped;
  readonly required: boolean;
}
type MemberDraft = { readonly field: FieldDraft } | { readonly oneof: string; readonly fields: FieldDraft[] };

interface MessageDraft {
  readonly kind: 'message';
  readonly path: readonly string[];
  readonly comment: readonly string[];
  readonly members: MemberDraft[];
  readonly nested: Draft[];
  /** Nested type names taken in this scope. */
  readonly taken: Set<string>;
}
interface EnumDraft {
  readonly kind: 'enum';
  readonly path: readonly string[];
  readonly comment: readonly string[];
  readonly values: readonly string[];
}
type Draft = MessageDraft | EnumDraft;

/** One field of a message being built: how to name it, and how to type it once named. */
interface FieldSpec {
  /** The snake_case name wanted. */
  readonly base: string;
  /** The contract's JSON key, or undefined for generated fields (default JSON name). */
  readonly wire: string | undefined;
  readonly generated: boolean;
  readonly comment: readonly string[];
  readonly required: boolean;
  /** In a oneof of this name. */
  readonly oneof?: string;
  /** Set: the field's final JSON name is recorded under this key, for the codec plan. */
  readonly tag?: string;
  readonly map: (scope: MessageDraft, typeBase: string) => Mapped;
}

const VALUE: Mapped = plain({ kind: 'external', name: 'google.protobuf.Value', isEnum: false });
const NULL_VALUE: Mapped = plain({ kind: 'external', name: 'google.protobuf.NullValue', isEnum: true });
const EVENT = 'event';

function plain(type: TypeRef, nullable = false): Mapped {
  return { type, repeated: false, mapValue: undefined, nullable };
}
const scalar = (name: string): Mapped => plain({ kind: 'scalar', name, presence: true });

type TypeClass = 'message' | 'enum' | 'alias';

class ProtoBuilder {
  private readonly types: ReadonlyMap<string, NamedType>;
  private readonly typeIndex: ReadonlyMap<string, number>;
  /** Proto name of every component that becomes a top-level message or enum. */
  private readonly topNames = new Map<string, string>();
  private readonly top: { draft: Draft; order: number }[] = [];
  private readonly reached = new Set<string>();
  private readonly pending: NamedType[] = [];
  /** Names declared in each scope (`''` is the package), for resolving references. */
  private readonly scopes = new Map<string, Set<string>>();
  private readonly messages = new Map<string, LockEntry>();
  private readonly enums = new Map<string, LockEntry>();
  private usesStruct = false;
  /** Codec plan pieces: tagged fields' JSON names, wrapper messages, enum spellings, open messages. */
  private readonly tags = new Map<string, string>();
  private readonly wrappers = new Set<string>();
  private readonly enumWires = new Map<string, Record<string, string>>();
  private readonly openMessages = new Map<string, string>();

  constructor(
    private readonly contract: Contract,
    private readonly lock: ProtoLock,
  ) {
    this.types = new Map(contract.types.map((t) => [t.key, t]));
    this.typeIndex = new Map(contract.types.map((t, i) => [t.key, i]));
    for (const [k, v] of Object.entries(lock.messages)) this.messages.set(k, v);
    for (const [k, v] of Object.entries(lock.enums)) this.enums.set(k, v);
  }

  build(): ProtoModel {
    const c = this.contract;
    const serviceName = `${names(serviceSegment(c.package.segments)).pascal}Service`;
    const taken = new Set<string>([serviceName, 'Heartbeat']);
    for (const s of c.streams) taken.add(`${s.name.pascal}Request`).add(`${s.name.pascal}Response`);
    for (const t of c.types) {
      if (this.classify(t) === 'alias') continue;
      let name = t.name.pascal;
      for (let i = 1; taken.has(name); i++) name = `${t.name.pascal}Type${i > 1 ? i : ''}`;
      taken.add(name);
      this.topNames.set(t.key, name);
    }

    const rpcs: RpcView[] = [];
    c.streams.forEach((s, i) => {
      const order = -1000000 + i * 2;
      this.top.push({ draft: this.requestMessage(s), order });
      this.top.push({ draft: this.responseMessage(s), order: order + 1 });
      rpcs.push({
        name: protoIdent(s.name.pascal),
        comment: commentLines(s.summary, s.description),
        request: `${s.name.pascal}Request`,
        requestStream: s.direction !== 'server-to-client',
        response: `${s.name.pascal}Response`,
        responseStream: s.direction !== 'client-to-server',
      });
    });
    if (c.streams.length) {
      this.top.push({
        draft: this.message([], 'Heartbeat', ['Sent while the stream is idle, so proxies keep it open.'], []),
        order: -1,
      });
    }
    for (let t = this.pending.shift(); t; t = this.pending.shift()) {
      this.top.push({ draft: this.namedTypeDecl(t), order: this.typeIndex.get(t.key)! });
    }
    const decls = [...this.top].sort((a, b) => a.order - b.order).map((d) => this.declView(d.draft, 0));

    const segments = c.package.segments.map(protoIdent);
    const imports = this.usesStruct ? ['google/protobuf/struct.proto'] : [];
    return {
      view: {
        header: header(c.file, c.hash, 'proto'),
        packageParts: segments,
        hasImports: imports.length > 0,
        imports,
        service: { name: protoIdent(serviceName), comment: commentLines(c.description ?? c.title), rpcs },
        declarations: decls,
      },
      lock: {
        version: 1,
        messages: Object.fromEntries(this.messages),
        enums: Object.fromEntries(this.enums),
      },
      path: `${segments.join('/')}/${looseNames(c.id).snake}.proto`,
      codec: this.codecPlan(),
    };
  }

  private fullName(path: readonly string[]): string {
    return [...this.contract.package.segments, ...path].join('.');
  }

  private codecPlan(): ProtoCodecPlan {
    const tagged = (prefix: string): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const [k, v] of this.tags) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
      return out;
    };
    const streams: Record<string, ProtoStreamPlan> = {};
    for (const s of this.contract.streams) {
      const w = s.name.wire;
      const requestField = this.tags.get(`${w}/request`);
      streams[w] = {
        request: this.fullName([`${s.name.pascal}Request`]),
        response: this.fullName([`${s.name.pascal}Response`]),
        open: this.openMessages.get(w) ?? this.fullName([`${s.name.pascal}Request`]),
        openCase: this.tags.get(`${w}/open`),
        params: tagged(`${w}/param/`),
        requestVia: !s.request ? undefined : requestField !== undefined ? { field: requestField } : 'inline',
        resumeToken: this.tags.get(`${w}/resume`),
        events: tagged(`${w}/event/`),
        clientEvents: tagged(`${w}/client/`),
        heartbeat: this.tags.get(`${w}/heartbeat`)!,
        dropped: this.tags.get(`${w}/dropped`),
      };
    }
    return {
      enums: Object.fromEntries([...this.enumWires].sort(([a], [b]) => compare(a, b))),
      wrappers: [...this.wrappers].sort(compare),
      streams,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Streams

  private requestMessage(s: Stream): MessageDraft {
    const name = `${s.name.pascal}Request`;
    const openFields = this.openFields(s);
    if (s.direction === 'server-to-client') return this.message([], name, [], openFields);
    const specs: FieldSpec[] = [
      {
        base: 'open',
        wire: undefined,
        generated: true,
        comment: ['The first frame: opens the stream.'],
        required: true,
        oneof: EVENT,
        tag: `${s.name.wire}/open`,
        map: (scope, base) => {
          const open = this.message(scope.path, base, [], openFields, scope);
          this.openMessages.set(s.name.wire, this.fullName(open.path));
          return plain(this.declRef(open));
        },
      },
      ...s.clientMessages.map((m) => ({ ...this.eventSpec(m.name, m.payload), tag: `${s.name.wire}/client/${m.name.wire}` })),
    ];
    return this.message([], name, [], specs);
  }

  private openFields(s: Stream): FieldSpec[] {
    const params: FieldSpec[] = s.params.map((p) => ({
      base: p.name.snake,
      wire: p.name.wire,
      generated: false,
      comment: commentLines(p.schema.description),
      required: true,
      tag: `${s.name.wire}/param/${p.name.wire}`,
      map: (scope, base) => this.mapNode(p.schema, scope, base),
    }));
    const fields = [...params];
    const obj = s.request && this.asObject(s.request);
    const paramNames = new Set(s.params.flatMap((p) => [p.name.snake, p.name.wire]));
    if (
      obj &&
      obj.properties.every(
        (p) => !paramNames.has(p.name.snake) && !paramNames.has(p.name.wire) && p.name.snake !== 'resume_token',
      )
    ) {
      fields.push(...obj.properties.map((p) => this.propertySpec(p)));
    } else if (s.request) {
      const request = s.request;
      fields.push({
        base: 'request',
        wire: undefined,
        generated: true,
        comment: commentLines(request.description),
        required: true,
        tag: `${s.name.wire}/request`,
        map: (scope, base) => this.mapNode(request, scope, base),
      });
    }
    if (s.resume.kind !== 'none') {
      fields.push({
        base: 'resume_token',
        wire: undefined,
        generated: true,
        comment: ['Resume after the message with this id; empty for a fresh start.'],
        required: true,
        tag: `${s.name.wire}/resume`,
        map: () => plain({ kind: 'scalar', name: 'string', presence: false }),
      });
    }
    return fields;
  }

  private responseMessage(s: Stream): MessageDraft {
    const specs: FieldSpec[] = [
      generatedScalar('seq', 'uint64', "One above the previous message's; a gap, repeat or reordering is visible."),
    ];
    const w = s.name.wire;
    if (s.lossy)
      specs.push({
        ...generatedScalar('dropped', 'uint32', 'Messages dropped by backpressure just before this one.'),
        tag: `${w}/dropped`,
      });
    specs.push(...s.messages.map((m) => ({ ...this.eventSpec(m.name, m.payload), tag: `${w}/event/${m.name.wire}` })));
    specs.push({
      ...this.eventSpec(s.termination.message, s.termination.payload),
      comment: ['The terminal message: nothing follows it.'],
      tag: `${w}/event/${s.termination.message.wire}`,
    });
    if (s.errors.mode === 'in-band' && s.errors.message) {
      const errorName = s.errors.message;
      specs.push({
        base: errorName.snake,
        wire: errorName.wire,
        generated: false,
        comment: ['An in-band error: the stream goes on.'],
        required: true,
        oneof: EVENT,
        tag: `${w}/event/${errorName.wire}`,
        map: (scope, base) => plain(this.declRef(this.errorMessage(scope, base, s.errors.codes))),
      });
    }
    specs.push({
      base: 'heartbeat',
      wire: undefined,
      generated: true,
      comment: [],
      required: true,
      oneof: EVENT,
      tag: `${w}/heartbeat`,
      map: () => plain({ kind: 'decl', path: ['Heartbeat'], isEnum: false }),
    });
    return this.message([], `${s.name.pascal}Response`, [], specs);
  }

  /** A oneof member for a message type of the stream: its payload's message, a wrapper, or empty. */
  private eventSpec(name: Names, payload: SchemaNode | undefined): FieldSpec {
    return {
      base: name.snake,
      wire: name.wire,
      generated: false,
      comment: [],
      required: true,
      oneof: EVENT,
      map: (scope, base) => {
        const target = payload?.kind === 'ref' ? this.types.get(payload.target) : undefined;
        if (target && this.classify(target) === 'message') return plain(this.refTo(target));
        const fields: FieldSpec[] = payload
          ? [
              {
                base: 'value',
                wire: undefined,
                generated: true,
                comment: [],
                required: true,
                map: (sc, b) => this.mapNode(payload, sc, b),
              },
            ]
          : [];
        const wrapper = this.message(scope.path, base, [], fields, scope);
        if (payload) this.wrappers.add(this.fullName(wrapper.path));
        return plain(this.declRef(wrapper));
      },
    };
  }

  private errorMessage(scope: MessageDraft, base: string, codes: readonly Names[]): MessageDraft {
    return this.message(
      scope.path,
      base,
      [],
      [
        {
          base: 'code',
          wire: undefined,
          generated: true,
          comment: [],
          required: true,
          map: (sc) =>
            plain(
              this.declRef(
                this.enumDraft(
                  sc.path,
                  'Code',
                  [],
                  codes.map((c) => c.wire),
                  sc,
                ),
              ),
            ),
        },
        generatedScalar('message', 'string', ''),
        { ...generatedScalar('retryable', 'bool', ''), required: false },
      ],
      scope,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Schemas

  private namedTypeDecl(t: NamedType): Draft {
    const name = this.topNames.get(t.key)!;
    const comment = commentLines(t.description ?? t.schema.description);
    const schema = this.resolve(t.schema);
    if (schema.kind === 'enum')
      return this.enumDraft(
        [],
        name,
        comment,
        schema.values.map((v) => v.wire),
      );
    if (schema.kind === 'object')
      return this.message(
        [],
        name,
        comment,
        schema.properties.map((p) => this.propertySpec(p)),
      );
    return this.message([], name, comment, this.variantSpecs(schema.kind === 'union' ? schema.variants : []));
  }

  private propertySpec(p: Property): FieldSpec {
    return {
      base: p.name.snake,
      wire: p.name.wire,
      generated: false,
      comment: commentLines(p.description ?? p.schema.description),
      required: p.required,
      map: (scope, base) => this.mapNode(p.schema, scope, base),
    };
  }

  /** `oneof variant { A a; B b; }` for a union whose non-null variants are all message refs. */
  private variantSpecs(variants: readonly SchemaNode[]): FieldSpec[] {
    return flatten(variants)
      .filter((v) => v.kind === 'ref')
      .map((v) => {
        const t = this.types.get(v.target)!;
        return {
          base: t.name.snake,
          wire: undefined,
          generated: false,
          comment: [],
          required: true,
          oneof: 'variant',
          map: () => plain(this.refTo(t)),
        };
      });
  }

  /** Proto has no list of lists or map of lists: such a value gets a message with one `values` field. */
  private valuesWrapper(inner: SchemaNode, scope: MessageDraft, base: string, seen: ReadonlySet<string>): TypeRef {
    const wrapper = this.message(
      scope.path,
      base,
      [],
      [{ base: 'values', wire: undefined, generated: true, comment: [], required: true, map: (sc, b) => this.mapNode(inner, sc, b, seen) }],
      scope,
    );
    this.wrappers.add(this.fullName(wrapper.path));
    return this.declRef(wrapper);
  }

  private mapNode(node: SchemaNode, scope: MessageDraft, base: string, seen: ReadonlySet<string> = new Set()): Mapped {
    switch (node.kind) {
      case 'string':
        return scalar(node.format === 'byte' ? 'bytes' : 'string');
      case 'integer':
      case 'number':
        return scalar(node.format);
      case 'boolean':
        return scalar('bool');
      case 'null':
        return this.struct(NULL_VALUE);
      case 'unknown':
        return this.struct(VALUE);
      case 'literal':
        if (node.value === null) return this.struct(NULL_VALUE);
        return scalar(typeof node.value === 'string' ? 'string' : typeof node.value === 'boolean' ? 'bool' : 'double');
      case 'enum':
        return plain(
          this.declRef(
            this.enumDraft(
              scope.path,
              base,
              [],
              node.values.map((v) => v.wire),
              scope,
            ),
          ),
        );
      case 'object':
        return plain(
          this.declRef(
            this.message(
              scope.path,
              base,
              [],
              node.properties.map((p) => this.propertySpec(p)),
              scope,
            ),
          ),
        );
      case 'ref': {
        const t = this.types.get(node.target);
        if (!t) throw new Error(`internal: unresolved ref ${JSON.stringify(node.target)}`);
        if (this.classify(t) !== 'alias') return plain(this.refTo(t));
        // A named alias is inlined; one that only ever refers back to itself has no proto form.
        if (seen.has(t.key)) return this.struct(VALUE);
        return this.mapNode(t.schema, scope, base, new Set([...seen, t.key]));
      }
      case 'array': {
        const items = this.resolve(node.items);
        if (items.kind === 'array' || items.kind === 'map') return { ...plain(this.valuesWrapper(items, scope, base, seen)), repeated: true };
        const inner = this.mapNode(node.items, scope, base, seen);
        const type = inner.nullable ? this.struct(VALUE).type : inner.type;
        return { type, repeated: true, mapValue: undefined, nullable: false };
      }
      case 'map': {
        const values = this.resolve(node.values);
        let value: TypeRef;
        if (values.kind === 'array' || values.kind === 'map') {
          value = this.valuesWrapper(values, scope, base, seen);
        } else {
          const inner = this.mapNode(node.values, scope, `${base}Value`, seen);
          value = inner.nullable ? this.struct(VALUE).type : inner.type;
        }
        return { type: value, repeated: false, mapValue: value, nullable: false };
      }
      case 'union': {
        const flat = flatten(node.variants);
        const others = flat.filter((v) => v.kind !== 'null');
        const hasNull = others.length < flat.length;
        if (others.length === 0) return this.struct(NULL_VALUE);
        if (others.length === 1) {
          const inner = this.mapNode(others[0]!, scope, base, seen);
          return { ...inner, nullable: inner.nullable || hasNull };
        }
        const refs = others.filter((v) => v.kind === 'ref' && this.classify(this.types.get(v.target)!) === 'message');
        if (refs.length === others.length) {
          return plain(this.declRef(this.message(scope.path, base, [], this.variantSpecs(others), scope)), hasNull);
        }
        return this.struct(VALUE);
      }
    }
  }

  private struct(m: Mapped): Mapped {
    this.usesStruct = true;
    return m;
  }

  /** Follows refs to aliases, to see the shape a node has in proto. */
  private resolve(node: SchemaNode, seen: ReadonlySet<string> = new Set()): SchemaNode {
    if (node.kind !== 'ref') return node;
    const t = this.types.get(node.target);
    if (!t || this.classify(t) !== 'alias' || seen.has(t.key)) return node;
    return this.resolve(t.schema, new Set([...seen, t.key]));
  }

  private asObject(node: SchemaNode): { properties: readonly Property[] } | undefined {
    const r = node.kind === 'ref' ? this.types.get(node.target)?.schema : node;
    return r?.kind === 'object' ? r : undefined;
  }

  private classify(t: NamedType, seen: ReadonlySet<string> = new Set()): TypeClass {
    const s = t.schema;
    if (s.kind === 'object') return 'message';
    if (s.kind === 'enum') return 'enum';
    if (s.kind === 'union') {
      const others = flatten(s.variants).filter((v) => v.kind !== 'null');
      const allMessages =
        others.length >= 2 &&
        others.every((v) => {
          if (v.kind !== 'ref' || seen.has(v.target)) return false;
          const target = this.types.get(v.target);
          return !!target && this.classify(target, new Set([...seen, t.key])) === 'message';
        });
      if (allMessages) return 'message';
    }
    return 'alias';
  }

  private refTo(t: NamedType): TypeRef {
    if (!this.reached.has(t.key)) {
      this.reached.add(t.key);
      this.pending.push(t);
    }
    return { kind: 'decl', path: [this.topNames.get(t.key)!], isEnum: this.classify(t) === 'enum' };
  }

  private declRef(d: Draft): TypeRef {
    return { kind: 'decl', path: d.path, isEnum: d.kind === 'enum' };
  }

  // -------------------------------------------------------------------------------------------
  // Declarations

  /** Declares a name in a scope; nested names that clash get a numeric suffix. */
  private declare(parentPath: readonly string[], base: string, parent: MessageDraft | undefined): string[] {
    let name = base;
    if (parent) {
      for (let i = 2; parent.taken.has(name); i++) name = `${base}${i}`;
      parent.taken.add(name);
    }
    const key = parentPath.join('.');
    if (!this.scopes.has(key)) this.scopes.set(key, new Set());
    this.scopes.get(key)!.add(name);
    return [...parentPath, protoIdent(name)];
  }

  private message(
    parentPath: readonly string[],
    base: string,
    comment: readonly string[],
    specs: readonly FieldSpec[],
    parent?: MessageDraft,
  ): MessageDraft {
    const path = this.declare(parentPath, base, parent);
    const draft: MessageDraft = { kind: 'message', path, comment, members: [], nested: [], taken: new Set() };
    if (parent) parent.nested.push(draft);

    const named = dedupeFields(specs);
    for (const [i, spec] of specs.entries()) {
      const { name, jsonName } = named[i]!;
      if (spec.tag !== undefined) this.tags.set(spec.tag, jsonName ?? defaultJsonName(name));
      const field: FieldDraft = {
        name,
        jsonName,
        comment: spec.comment,
        mapped: spec.map(draft, names(name).pascal),
        required: spec.required,
      };
      const last = draft.members.at(-1);
      if (spec.oneof !== undefined && last && 'oneof' in last && last.oneof === spec.oneof) last.fields.push(field);
      else draft.members.push(spec.oneof !== undefined ? { oneof: spec.oneof, fields: [field] } : { field });
    }
    const fieldNames = draft.members.flatMap((m) => ('field' in m ? [m.field.name] : m.fields.map((f) => f.name)));
    const key = path.join('.');
    this.messages.set(key, assignNumbers(this.messages.get(key), fieldNames).entry);
    return draft;
  }

  private enumDraft(
    parentPath: readonly string[],
    base: string,
    comment: readonly string[],
    wires: readonly string[],
    parent?: MessageDraft,
  ): EnumDraft {
    const path = this.declare(parentPath, base, parent);
    const prefix = `${bufUpperSnake(path.at(-1)!)}_`;
    const zero = `${prefix}UNSPECIFIED`;
    const taken = new Set([loose(zero)]);
    const values = new Map<string, string>();
    for (const wire of [...wires].sort(compare)) {
      const base = `${prefix}${looseNames(wire).constant}`;
      let name = base;
      for (let i = 2; taken.has(loose(name)); i++) name = `${base}_${i}`;
      taken.add(loose(name));
      values.set(wire, name);
    }
    const draft: EnumDraft = { kind: 'enum', path, comment, values: [zero, ...wires.map((w) => values.get(w)!)] };
    if (parent) parent.nested.push(draft);
    this.enumWires.set(this.fullName(path), Object.fromEntries([...values].map(([wire, name]) => [name, wire])));
    const key = path.join('.');
    this.enums.set(key, assignNumbers(this.enums.get(key), draft.values.slice(1)).entry);
    return draft;
  }

  // -------------------------------------------------------------------------------------------
  // Views

  private declView(d: Draft, depth: number): DeclView {
    const indent = '  '.repeat(depth);
    const key = d.path.join('.');
    if (d.kind === 'enum') {
      const entry = this.enums.get(key)!;
      return {
        message: null,
        enum: {
          name: d.path.at(-1)!,
          indent,
          comment: d.comment,
          values: d.values.map((name, i) => ({
            indent: `${indent}  `,
            name: protoIdent(name),
            number: String(i === 0 ? 0 : entry.numbers[name]!),
          })),
          reserved: reservedView(entry, `${indent}  `),
        },
      };
    }
    const entry = this.messages.get(key)!;
    const field = (f: FieldDraft, fieldIndent: string, inOneof: boolean): FieldView => ({
      indent: fieldIndent,
      comment: f.comment,
      label: inOneof ? '' : label(f),
      type: f.mapped.mapValue
        ? `map<string, ${this.typeName(f.mapped.mapValue, d.path)}>`
        : this.typeName(f.mapped.type, d.path),
      name: protoIdent(f.name),
      number: String(entry.numbers[f.name]!),
      jsonName: f.jsonName,
    });
    const members = d.members.map((m): MemberView =>
      'field' in m
        ? { field: field(m.field, `${indent}  `, false), oneof: null }
        : {
            field: null,
            oneof: {
              indent: `${indent}  `,
              name: m.oneof,
              fields: m.fields.map((f) => field(f, `${indent}    `, true)),
            },
          },
    );
    const reserved = reservedView(entry, `${indent}  `);
    const nested = d.nested.map((n) => this.declView(n, depth + 1));
    return {
      message: {
        name: d.path.at(-1)!,
        indent,
        comment: d.comment,
        empty: !members.length && !reserved && !nested.length,
        members,
        reserved,
        nested,
      },
      enum: null,
    };
  }

  /** The shortest name protoc resolves to `ref` from inside the message at `from`. */
  private typeName(ref: TypeRef, from: readonly string[]): string {
    if (ref.kind !== 'decl') return ref.name;
    const target = ref.path;
    for (let k = 1; k <= target.length; k++) {
      const first = target[target.length - k]!;
      for (let depth = from.length; depth >= 0; depth--) {
        if (!this.scopes.get(from.slice(0, depth).join('.'))?.has(first)) continue;
        // protoc takes the innermost scope declaring the first part, right or wrong.
        if (from.slice(0, depth).join('.') === target.slice(0, target.length - k).join('.'))
          return target.slice(-k).join('.');
        break;
      }
    }
    return `.${[...this.contract.package.segments, ...target].join('.')}`;
  }
}

function generatedScalar(name: string, type: string, comment: string): FieldSpec {
  return {
    base: name,
    wire: undefined,
    generated: true,
    comment: commentLines(comment),
    required: true,
    map: () => plain({ kind: 'scalar', name: type, presence: true }),
  };
}

function label(f: FieldDraft): string {
  const m = f.mapped;
  if (m.repeated) return 'repeated ';
  if (m.mapValue) return '';
  const presence = (m.type.kind === 'scalar' && m.type.presence) || (m.type.kind !== 'scalar' && m.type.isEnum);
  return presence && (!f.required || m.nullable) ? 'optional ' : '';
}

function reservedView(entry: LockEntry, indent: string): ReservedView | null {
  if (!entry.reservedNumbers.length && !entry.reservedNames.length) return null;
  return {
    indent,
    numbers: entry.reservedNumbers.length ? entry.reservedNumbers.join(', ') : null,
    hasNames: entry.reservedNames.length > 0,
    names: entry.reservedNames,
  };
}

/**
 * Final names for a message's fields: unique as names and as protoc's default JSON names;
 * generated fields first, then the contract's by wire key. `json_name` only where it differs from
 * the default and is not already some field's JSON name.
 */
function dedupeFields(specs: readonly FieldSpec[]): { name: string; jsonName: string | null }[] {
  const order = specs
    .map((s, i) => ({ s, i }))
    .sort(
      (a, b) =>
        Number(b.s.generated) - Number(a.s.generated) ||
        (a.s.generated ? a.i - b.i : compare(a.s.wire ?? a.s.base, b.s.wire ?? b.s.base) || a.i - b.i),
    );
  // A oneof's name shares the field namespace.
  const takenNames = new Set(specs.flatMap((s) => (s.oneof === undefined ? [] : [s.oneof])));
  const takenJson = new Set<string>();
  const out: { name: string; jsonName: string | null }[] = specs.map(() => ({ name: '', jsonName: null }));
  for (const { s, i } of order) {
    let name = s.base;
    for (let n = 2; takenNames.has(name) || takenJson.has(defaultJsonName(name)); n++) name = `${s.base}_${n}`;
    takenNames.add(name);
    takenJson.add(defaultJsonName(name));
    out[i]!.name = name;
  }
  for (const { s, i } of order) {
    const wire = s.wire;
    if (wire === undefined || wire === defaultJsonName(out[i]!.name) || takenJson.has(wire)) continue;
    takenJson.add(wire);
    out[i]!.jsonName = wire;
  }
  return out;
}

/** protoc's default JSON name: drop `_`, upper-case the letter after it. */
export function defaultJsonName(field: string): string {
  return field.replace(/_(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase());
}

/**
 * buf's UPPER_SNAKE_CASE of a PascalCase name, which ENUM_VALUE_PREFIX compares against: a new
 * word starts at an upper-case letter after a lower-case one, or before a lower-case one.
 */
export function bufUpperSnake(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    const upper = c >= 'A' && c <= 'Z';
    const lower = (x: string | undefined) => x !== undefined && x >= 'a' && x <= 'z';
    if (i > 0 && upper && !out.endsWith('_') && (lower(name[i + 1]) || lower(name[i - 1]))) out += '_';
    out += c;
  }
  return out.toUpperCase();
}

/** Enum value names protoc treats as the same (it ignores case and underscores). */
const loose = (name: string) => name.replace(/_/g, '').toUpperCase();

function serviceSegment(segments: readonly string[]): string {
  const named = segments.filter((s) => !/^v\d/.test(s));
  return named.at(-1) ?? segments[0] ?? 'streamspec';
}

function commentLines(...texts: (string | undefined)[]): string[] {
  const lines: string[] = [];
  for (const text of texts) {
    if (!text || !text.trim()) continue;
    if (lines.length) lines.push('');
    lines.push(
      ...text
        .trim()
        .split(/\r\n|[\r\n\u2028\u2029]/)
        .map((l) => l.trimEnd()),
    );
  }
  return lines;
}

function flatten(variants: readonly SchemaNode[]): SchemaNode[] {
  return variants.flatMap((v) => (v.kind === 'union' ? flatten(v.variants) : [v]));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
