// Test helper: IR built by hand, so the schema printers can be tested without the YAML builder.
// Every node gets the same position; defaults mirror what the builder applies.

import { looseNames, names } from '../ir/names.ts';
import type {
  ArraySchema,
  Contract,
  EnumSchema,
  FloatFormat,
  IntFormat,
  IntegerSchema,
  LiteralSchema,
  Message,
  NamedType,
  NumberSchema,
  ObjectSchema,
  Property,
  RefSchema,
  SchemaNode,
  SourcePos,
  Stream,
  StringSchema,
  UnionSchema,
} from '../ir/types.ts';

export const POS: SourcePos = { file: 'spec/test.yaml', line: 1, col: 1 };

type Opts<T> = Omit<T, 'kind' | 'pos'>;

export const str = (o: Partial<Opts<StringSchema>> = {}): StringSchema => ({ kind: 'string', pos: POS, ...o });
export const int = (format: IntFormat = 'int32', o: Partial<Opts<IntegerSchema>> = {}): IntegerSchema => ({
  kind: 'integer',
  format,
  pos: POS,
  ...o,
});
export const num = (format: FloatFormat = 'double', o: Partial<Opts<NumberSchema>> = {}): NumberSchema => ({
  kind: 'number',
  format,
  pos: POS,
  ...o,
});
export const bool = (): SchemaNode => ({ kind: 'boolean', pos: POS });
export const nul = (): SchemaNode => ({ kind: 'null', pos: POS });
export const unknown = (): SchemaNode => ({ kind: 'unknown', pos: POS });
export const enm = (...values: string[]): EnumSchema => ({ kind: 'enum', values: values.map(looseNames), pos: POS });
export const lit = (value: LiteralSchema['value']): LiteralSchema => ({ kind: 'literal', value, pos: POS });
export const arr = (items: SchemaNode, o: Partial<Opts<ArraySchema>> = {}): ArraySchema => ({
  kind: 'array',
  items,
  pos: POS,
  ...o,
});
export const map = (values: SchemaNode): SchemaNode => ({ kind: 'map', values, pos: POS });
export const union = (...variants: SchemaNode[]): UnionSchema => ({ kind: 'union', variants, pos: POS });
export const ref = (target: string): RefSchema => ({ kind: 'ref', target, pos: POS });

/** A property: `key` is any JSON key; `?` suffix-free, use `{ required: false }` for optional ones. */
export const prop = (
  key: string,
  schema: SchemaNode,
  o: { required?: boolean; description?: string } = {},
): Property => ({
  name: looseNames(key),
  required: o.required ?? true,
  schema,
  ...(o.description !== undefined ? { description: o.description } : {}),
  pos: POS,
});
export const obj = (properties: Property[], additional: ObjectSchema['additional'] = false): ObjectSchema => ({
  kind: 'object',
  properties,
  additional,
  pos: POS,
});

export const named = (key: string, schema: SchemaNode, description?: string): NamedType => ({
  key,
  name: names(key),
  schema,
  ...(description !== undefined ? { description } : {}),
  pos: POS,
});
export const typeMap = (types: readonly NamedType[]): ReadonlyMap<string, NamedType> =>
  new Map(types.map((t) => [t.key, t]));

export const message = (wire: string, payload?: SchemaNode): Message => ({ name: names(wire), payload, pos: POS });

/** A server-to-client stream with every primitive set to a plain default; override what a test needs. */
export function stream(wire: string, o: Partial<Stream> = {}): Stream {
  const n = names(wire);
  return {
    name: n,
    typeNames: {
      message: `${n.pascal}Message`,
      clientMessage: `${n.pascal}ClientMessage`,
      params: `${n.pascal}Params`,
      errorCode: `${n.pascal}ErrorCode`,
    },
    path: {
      template: `/v1/${wire}`,
      segments: [
        { kind: 'literal', text: 'v1' },
        { kind: 'literal', text: wire },
      ],
      pos: POS,
    },
    direction: 'server-to-client',
    producer: 'server',
    consumer: 'browser',
    lossy: false,
    params: [],
    request: undefined,
    messages: [],
    clientMessages: [],
    termination: { message: names('done'), payload: undefined, pos: POS },
    errors: {
      mode: 'fail-fast',
      message: undefined,
      codes: ['INTERNAL', 'INVALID_REQUEST', 'RESUME_EXPIRED'].map(names),
      pos: POS,
    },
    backpressure: { kind: 'pull', buffer: 64, pos: POS },
    resume: { kind: 'none', pos: POS },
    heartbeat: { intervalMs: 15000, timeoutMs: 45000, pos: POS },
    auth: { kind: 'default', pos: POS },
    pos: POS,
    ...o,
  };
}

export function contract(o: Partial<Contract> & { packageName?: string } = {}): Contract {
  const { packageName = 'assistant.v1', ...rest } = o;
  return {
    file: 'spec/assistant.yaml',
    hash: '0'.repeat(64),
    id: 'assistant',
    title: 'Assistant',
    version: '1.0.0',
    package: { name: packageName, segments: packageName.split('.'), pos: POS },
    transport: 'grpc',
    streams: [],
    types: [],
    pos: POS,
    ...rest,
  };
}

// Work folders and type-checking are shared with the end-to-end tests.
export { removeWorkDirs, typecheck, workDir } from '../../test/support/tools.ts';
