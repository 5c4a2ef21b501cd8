// The transport-neutral IR. Plain readonly data, built once by `build.ts` with every default
// applied; emitters read only this (and the bound form from `bind.ts`), never raw YAML.

/** Where a node came from: 1-based line and column in the file as given on the command line. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * One contract name in every case a target needs. `wire` is what travels (event names, JSON
 * keys, URL segments); the others are decided once by the name solver in `names.ts`.
 */
export interface Names {
  readonly wire: string;
  /** camelCase, a valid TS identifier (reserved words get a `$` suffix). */
  readonly camel: string;
  /** PascalCase, a valid TS type name (reserved words get a `$` suffix). */
  readonly type: string;
  /** PascalCase for proto message, enum and rpc names. */
  readonly pascal: string;
  /** snake_case, a valid proto field name. */
  readonly snake: string;
  /** UPPER_SNAKE_CASE, for proto enum values and constants. */
  readonly constant: string;
}

export type Direction = 'server-to-client' | 'client-to-server' | 'bidirectional';
export type Producer = 'server' | 'client' | 'both';
export type Consumer = 'browser' | 'service';
export type Transport = 'sse' | 'ndjson' | 'websocket' | 'grpc';
export const TRANSPORTS: readonly Transport[] = ['sse', 'ndjson', 'websocket', 'grpc'];

// ---------------------------------------------------------------------------------------------
// Schemas: a small type graph. `$ref`s to components become `ref` nodes naming a NamedType, so
// recursive schemas are finite.

export type IntFormat = 'int32' | 'int64' | 'uint32' | 'uint64';
export type FloatFormat = 'float' | 'double';

interface SchemaBase {
  readonly pos: SourcePos;
  readonly description?: string;
  /** `examples` as written: JSON values the contract vouches for (not checked here); `mock` serves them. */
  readonly examples?: readonly unknown[];
  /** `default` as written, when the schema has one (it may be `null`). */
  readonly default?: unknown;
}

export interface StringSchema extends SchemaBase {
  readonly kind: 'string';
  readonly format?: string;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
}
export interface NumberSchema extends SchemaBase {
  readonly kind: 'number';
  readonly format: FloatFormat;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}
export interface IntegerSchema extends SchemaBase {
  readonly kind: 'integer';
  /** Every format travels as a JSON number (TS `number`); the format picks the proto type and range. */
  readonly format: IntFormat;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}
export interface BooleanSchema extends SchemaBase {
  readonly kind: 'boolean';
}
export interface NullSchema extends SchemaBase {
  readonly kind: 'null';
}
/** `enum` of strings (the only enum proto can carry); other literal sets become `literal` unions. */
export interface EnumSchema extends SchemaBase {
  readonly kind: 'enum';
  readonly values: readonly Names[];
}
export interface LiteralSchema extends SchemaBase {
  readonly kind: 'literal';
  readonly value: string | number | boolean | null;
}
export interface ArraySchema extends SchemaBase {
  readonly kind: 'array';
  readonly items: SchemaNode;
  readonly minItems?: number;
  readonly maxItems?: number;
}
export interface Property {
  readonly name: Names;
  readonly required: boolean;
  readonly schema: SchemaNode;
  readonly description?: string;
  readonly pos: SourcePos;
}
export interface ObjectSchema extends SchemaBase {
  readonly kind: 'object';
  readonly properties: readonly Property[];
  /** false: no other keys allowed; true: any other keys; a schema: other keys of that type. */
  readonly additional: boolean | SchemaNode;
}
/** An object with no declared properties and `additionalProperties: <schema>`. */
export interface MapSchema extends SchemaBase {
  readonly kind: 'map';
  readonly values: SchemaNode;
}
/** `oneOf` / `anyOf`, and `type: [a, b]`. */
export interface UnionSchema extends SchemaBase {
  readonly kind: 'union';
  readonly variants: readonly SchemaNode[];
}
export interface RefSchema extends SchemaBase {
  readonly kind: 'ref';
  /** Key into `Contract.types`. */
  readonly target: string;
}
/** `{}` or a schema with no type constraint. */
export interface UnknownSchema extends SchemaBase {
  readonly kind: 'unknown';
}

export type SchemaNode =
  | StringSchema
  | NumberSchema
  | IntegerSchema
  | BooleanSchema
  | NullSchema
  | EnumSchema
  | LiteralSchema
  | ArraySchema
  | ObjectSchema
  | MapSchema
  | UnionSchema
  | RefSchema
  | UnknownSchema;

/** A named schema: a `components.schemas` entry, or an inline payload given a synthesized name. */
export interface NamedType {
  /** Stable key (`Token`, or `CompletionToken` for an inline payload). */
  readonly key: string;
  readonly name: Names;
  readonly schema: SchemaNode;
  readonly description?: string;
  readonly pos: SourcePos;
}

// ---------------------------------------------------------------------------------------------
// Streams

export interface PathSegmentLiteral {
  readonly kind: 'literal';
  readonly text: string;
}
export interface PathSegmentParam {
  readonly kind: 'param';
  readonly name: string;
}
export interface StreamPath {
  readonly template: string;
  readonly segments: readonly (PathSegmentLiteral | PathSegmentParam)[];
  readonly pos: SourcePos;
}

export interface Param {
  readonly name: Names;
  readonly schema: SchemaNode;
  readonly pos: SourcePos;
}

/** One message type of a stream's union. `payload` is always a `ref` to a NamedType or absent. */
export interface Message {
  readonly name: Names;
  readonly payload: SchemaNode | undefined;
  readonly pos: SourcePos;
}

export interface Termination {
  readonly message: Names;
  readonly payload: SchemaNode | undefined;
  readonly pos: SourcePos;
}

export type ErrorMode = 'fail-fast' | 'in-band' | 'out-of-band';
export const BUILTIN_ERROR_CODES = ['INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'] as const;

export interface ErrorSpec {
  readonly mode: ErrorMode;
  /** The in-band error message name; set exactly when mode is `in-band`. */
  readonly message: Names | undefined;
  /** The contract's codes followed by the built-ins, without duplicates, in that order. */
  readonly codes: readonly Names[];
  readonly pos: SourcePos;
}

export type BackpressureStrategy = 'pull' | 'credit' | 'drop-oldest' | 'drop-newest' | 'block' | 'sample';
export const BACKPRESSURE_STRATEGIES: readonly BackpressureStrategy[] = [
  'pull',
  'credit',
  'drop-oldest',
  'drop-newest',
  'block',
  'sample',
];

export type Backpressure =
  | { readonly kind: 'pull' | 'block' | 'drop-oldest' | 'drop-newest'; readonly buffer: number; readonly pos: SourcePos }
  | { readonly kind: 'credit'; readonly credits: number; readonly buffer: number; readonly pos: SourcePos }
  | { readonly kind: 'sample'; readonly intervalMs: number; readonly buffer: number; readonly pos: SourcePos };

export type Resume =
  | { readonly kind: 'none'; readonly pos: SourcePos }
  | {
      readonly kind: 'last-event-id' | 'token';
      readonly retention: { readonly messages: number; readonly seconds: number | undefined };
      readonly pos: SourcePos;
    };

export interface Heartbeat {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly pos: SourcePos;
}

/**
 * `auth` as the contract says it. `default`: the contract says nothing, and the runtime decides:
 * required when the router has an `authenticate` hook, none when it has not.
 */
export type AuthKind = 'required' | 'optional' | 'none' | 'default';
export interface Auth {
  readonly kind: AuthKind;
  readonly pos: SourcePos;
}

/** TS type names derived from a stream, claimed by the builder so they never meet a schema's name. */
export interface StreamTypeNames {
  /** The union of server -> client messages (`CompletionMessage`). */
  readonly message: string;
  /** The union of client -> server messages (`RoomClientMessage`). */
  readonly clientMessage: string;
  /** Path parameters (`CompletionParams`). */
  readonly params: string;
  /** Error codes (`CompletionErrorCode`). */
  readonly errorCode: string;
}

export interface Stream {
  readonly name: Names;
  readonly typeNames: StreamTypeNames;
  readonly summary?: string;
  readonly description?: string;
  readonly path: StreamPath;
  readonly direction: Direction;
  readonly producer: Producer;
  readonly consumer: Consumer;
  readonly lossy: boolean;
  readonly params: readonly Param[];
  readonly request: SchemaNode | undefined;
  /** Server -> client message types, in contract order (terminal and error messages excluded). */
  readonly messages: readonly Message[];
  /** Client -> server message types. */
  readonly clientMessages: readonly Message[];
  readonly termination: Termination;
  readonly errors: ErrorSpec;
  readonly backpressure: Backpressure;
  readonly resume: Resume;
  readonly heartbeat: Heartbeat;
  readonly auth: Auth;
  readonly pos: SourcePos;
}

export interface Contract {
  /** The spec file as given (relative to the working directory, `/` separators). */
  readonly file: string;
  /** sha256 of the spec file's bytes, hex. */
  readonly hash: string;
  /** Base name of the spec file without extension: the default output folder name. */
  readonly id: string;
  readonly title: string;
  readonly version: string;
  readonly description?: string;
  /** `assistant.v1`: proto package; its segments name the namespace. */
  readonly package: { readonly name: string; readonly segments: readonly string[]; readonly pos: SourcePos };
  readonly transport: Transport;
  readonly streams: readonly Stream[];
  /** Named types in a stable order: components first (contract order), then synthesized. */
  readonly types: readonly NamedType[];
  readonly pos: SourcePos;
}
