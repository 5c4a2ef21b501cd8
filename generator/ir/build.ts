// Builds the IR from a loaded contract whose shape already passed `checkShape`. Every default is
// applied here, every name solved here, every `$ref` turned into a named type here. What cannot
// be built (a stream with no terminal message, an unusable name) is reported, never guessed.

import { diagnostic, type Diagnostic } from '../diagnostics.ts';
import { resolveRef } from '../load/load.ts';
import { valueAt } from '../load/pointer.ts';
import type { Pointer, RefTarget, YamlFile } from '../load/types.ts';
import { parseDuration } from './duration.ts';
import { isPortableName, looseNames, names } from './names.ts';
import {
  BUILTIN_ERROR_CODES,
  type Auth,
  type Backpressure,
  type BackpressureStrategy,
  type Contract,
  type ErrorSpec,
  type Heartbeat,
  type Message,
  type NamedType,
  type Names,
  type Param,
  type Property,
  type Resume,
  type SchemaNode,
  type SourcePos,
  type Stream,
  type StreamPath,
  type Termination,
  type Transport,
} from './types.ts';

/** Defaults for what a contract may leave out; documented in the README. */
export const DEFAULTS = {
  transport: 'sse' as Transport,
  buffer: 64,
  heartbeat: { intervalMs: 15_000, timeoutMs: 45_000 },
  errorMode: 'fail-fast' as const,
};

type Json = Record<string, unknown>;
/** What any schema node may carry besides its type. */
type Meta = { description?: string; examples?: readonly unknown[]; default?: unknown };
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface BuildInput {
  readonly root: YamlFile;
  readonly files: ReadonlyMap<string, YamlFile>;
  /** sha256 of the root file's bytes, hex. */
  readonly hash: string;
}

export function buildContract(input: BuildInput): { contract: Contract | undefined; diagnostics: Diagnostic[] } {
  const b = new Builder(input);
  const contract = b.build();
  return { contract: b.diagnostics.some((d) => d.severity === 'error') ? undefined : contract, diagnostics: b.diagnostics };
}

class Builder {
  readonly diagnostics: Diagnostic[] = [];
  private readonly root: YamlFile;
  private readonly files: ReadonlyMap<string, YamlFile>;
  /** Named types by key, in registration order. */
  private readonly types = new Map<string, NamedType>();
  /** `file#pointer` of a $ref target -> its named type key (registered before converting, for recursion). */
  private readonly keyOfTarget = new Map<string, string>();
  /** Keys claimed, so two refs with the same last segment in different files get distinct keys. */
  private readonly claimed = new Set<string>();

  constructor(private readonly input: BuildInput) {
    this.root = input.root;
    this.files = input.files;
  }

  private report(code: Parameters<typeof diagnostic>[0], pos: SourcePos, message: string): void {
    this.diagnostics.push(diagnostic(code, pos, message));
  }

  build(): Contract {
    const doc = this.root.value as Json;
    const info = (doc.info ?? {}) as Json;
    const pkg = String(doc.package ?? '');
    const p = (ptr: Pointer, at?: 'key' | 'value') => this.root.pos(ptr, at);

    // Components first, in contract order, so their keys are their own names.
    const schemas = isObj(doc.components) && isObj(doc.components.schemas) ? doc.components.schemas : {};
    for (const name of Object.keys(schemas)) {
      this.namedFromTarget({ file: this.root, pointer: ['components', 'schemas', name], value: schemas[name] });
    }
    this.collisions(
      'schema',
      Object.keys(schemas).map((n) => ({ names: looseNames(n), pos: p(['components', 'schemas', n]) })),
      (n) => n.pascal,
    );

    const streamsRaw = isObj(doc.streams) ? doc.streams : {};
    const streams: Stream[] = [];
    for (const name of Object.keys(streamsRaw)) {
      const s = this.stream(name, streamsRaw[name] as Json);
      if (s) streams.push(s);
    }
    this.collisions(
      'stream',
      streams.map((s) => ({ names: s.name, pos: s.pos })),
      (n) => n.camel,
    );

    const file = this.root.file;
    const id = file.replace(/^.*\//, '').replace(/\.(ya?ml|json)$/i, '');
    return {
      file,
      hash: this.input.hash,
      id,
      title: String(info.title ?? id),
      version: String(info.version ?? '0.0.0'),
      ...(typeof info.description === 'string' ? { description: info.description } : {}),
      package: { name: pkg, segments: pkg.split('.'), pos: p(['package'], 'value') },
      transport: (doc.transport as Transport | undefined) ?? DEFAULTS.transport,
      streams,
      types: [...this.types.values()],
      pos: { file, line: 1, col: 1 },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Names

  /** Names for a contract identifier (stream, message, param); SS109 when it cannot be one. */
  private ident(wire: string, what: string, pos: SourcePos): Names | undefined {
    if (!isPortableName(wire)) {
      this.report(
        'SS109',
        pos,
        `${what} "${wire}" cannot be an identifier in TypeScript and proto. Start it with an ASCII letter and use only letters, digits, "_", "-" and ".".`,
      );
      return undefined;
    }
    return names(wire);
  }

  /** SS206 for names that differ on the wire but meet after case conversion. */
  private collisions<T extends { names: Names; pos: SourcePos }>(what: string, items: readonly T[], key: (n: Names) => string): void {
    const seen = new Map<string, T>();
    for (const item of items) {
      const k = key(item.names);
      const first = seen.get(k);
      if (first && first.names.wire !== item.names.wire) {
        this.report(
          'SS206',
          item.pos,
          `${what} "${item.names.wire}" and "${first.names.wire}" (line ${first.pos.line}) both become "${k}" after case conversion. Rename one of them.`,
        );
      } else if (!first) seen.set(k, item);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Streams

  private stream(wire: string, raw: Json): Stream | undefined {
    const base: Pointer = ['streams', wire];
    const at = (...rest: (string | number)[]) => this.root.pos([...base, ...rest], 'key');
    const val = (...rest: (string | number)[]) => this.root.pos([...base, ...rest], 'value');
    const pos = at();
    const name = this.ident(wire, 'stream', pos);

    const params: Param[] = [];
    if (isObj(raw.params)) {
      for (const p of Object.keys(raw.params)) {
        const n = this.ident(p, 'parameter', at('params', p));
        if (n) params.push({ name: n, schema: this.schema(this.root, [...base, 'params', p]), pos: at('params', p) });
      }
    }
    this.collisions('parameter', params.map((p) => ({ names: p.name, pos: p.pos })), (n) => n.camel);

    const pascal = name?.pascal ?? 'Stream';
    const request =
      raw.request === undefined ? undefined : this.payload(`${pascal}Request`, [...base, 'request']);
    const messages = this.messages(raw.messages, [...base, 'messages'], pascal);
    const clientMessages = this.messages(raw.clientMessages, [...base, 'clientMessages'], pascal);

    const termination = this.termination(raw.termination, base, pascal);
    const errors = this.errors(raw.errors, base);
    const backpressure = this.backpressure(raw.backpressure as Json, base);
    const resume = this.resume(raw.resume, base);
    const heartbeat = this.heartbeat(raw.heartbeat, base);

    // One union per direction: messages, the terminal message and an in-band error share a type tag.
    const serverUnion = [
      ...messages.map((m) => ({ names: m.name, pos: m.pos })),
      ...(termination ? [{ names: termination.message, pos: termination.pos }] : []),
      ...(errors.message ? [{ names: errors.message, pos: errors.pos }] : []),
    ];
    this.collisions('message', serverUnion, (n) => n.camel);
    this.collisions('client message', clientMessages.map((m) => ({ names: m.name, pos: m.pos })), (n) => n.camel);

    if (!name || !termination) return undefined;
    return {
      name,
      typeNames: {
        message: this.claim(`${pascal}Message`),
        clientMessage: this.claim(`${pascal}ClientMessage`),
        params: this.claim(`${pascal}Params`),
        errorCode: this.claim(`${pascal}ErrorCode`),
      },
      ...(typeof raw.summary === 'string' ? { summary: raw.summary } : {}),
      ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
      path: parsePath(String(raw.path ?? '/'), val('path')),
      direction: raw.direction as Stream['direction'],
      producer: raw.producer as Stream['producer'],
      consumer: raw.consumer as Stream['consumer'],
      lossy: raw.lossy === true,
      params,
      request,
      messages,
      clientMessages,
      termination,
      errors,
      backpressure,
      resume,
      heartbeat,
      auth: this.auth(raw.auth, base),
      pos,
    };
  }

  private messages(raw: unknown, ptr: Pointer, streamPascal: string): Message[] {
    if (!isObj(raw)) return [];
    const out: Message[] = [];
    for (const m of Object.keys(raw)) {
      const pos = this.root.pos([...ptr, m], 'key');
      const n = this.ident(m, 'message', pos);
      if (!n) continue;
      out.push({ name: n, payload: raw[m] == null ? undefined : this.payload(`${streamPascal}${n.pascal}`, [...ptr, m]), pos });
    }
    return out;
  }

  private termination(raw: unknown, base: Pointer, streamPascal: string): Termination | undefined {
    const pos = this.root.pos(raw === undefined ? base : [...base, 'termination'], 'key');
    if (!isObj(raw) || typeof raw.message !== 'string') {
      const wire = String(base[1]);
      this.report(
        'SS201',
        pos,
        `stream "${wire}" has no termination message, so a client cannot tell the end of the stream from a dropped connection. Add termination: { message: done } (and a payload schema if the end carries data).`,
      );
      return undefined;
    }
    const msgPos = this.root.pos([...base, 'termination', 'message'], 'value');
    const n = this.ident(raw.message, 'termination message', msgPos);
    if (!n) return undefined;
    return {
      message: n,
      payload: raw.payload == null ? undefined : this.payload(`${streamPascal}${n.pascal}`, [...base, 'termination', 'payload']),
      pos: msgPos,
    };
  }

  private errors(raw: unknown, base: Pointer): ErrorSpec {
    const e = isObj(raw) ? raw : {};
    const pos = this.root.pos(isObj(raw) ? [...base, 'errors'] : base, 'key');
    const mode = (e.mode as ErrorSpec['mode'] | undefined) ?? DEFAULTS.errorMode;
    const msgPos = this.root.pos([...base, 'errors', 'message'], 'value');
    const message = typeof e.message === 'string' ? this.ident(e.message, 'error message', msgPos) : undefined;
    const wires = [...(Array.isArray(e.codes) ? e.codes.map(String) : []), ...BUILTIN_ERROR_CODES];
    const codes = [...new Set(wires)].map((c) => names(c));
    return { mode, message, codes, pos };
  }

  private backpressure(raw: Json, base: Pointer): Backpressure {
    const pos = this.root.pos([...base, 'backpressure'], 'key');
    const kind = raw.strategy as BackpressureStrategy;
    const buffer = typeof raw.buffer === 'number' ? raw.buffer : DEFAULTS.buffer;
    if (kind === 'credit') {
      if (typeof raw.credits !== 'number') {
        this.report('SS210', pos, `credit backpressure needs "credits", the number of messages the client grants when it opens the stream. Add credits: ${Math.min(32, buffer)} (at most buffer).`);
      }
      return { kind, credits: typeof raw.credits === 'number' ? raw.credits : 1, buffer, pos };
    }
    if (kind === 'sample') {
      const interval = parseDuration(raw.interval);
      if (interval === undefined) {
        this.report('SS210', pos, `sample backpressure needs "interval", how often the latest value is sent. Add interval: 250ms (or another duration).`);
      }
      return { kind, intervalMs: interval ?? 1000, buffer, pos };
    }
    return { kind, buffer, pos };
  }

  private resume(raw: unknown, base: Pointer): Resume {
    if (!isObj(raw) || raw.strategy === undefined || raw.strategy === 'none') {
      return { kind: 'none', pos: this.root.pos(isObj(raw) ? [...base, 'resume'] : base, 'key') };
    }
    const pos = this.root.pos([...base, 'resume'], 'key');
    const ret = isObj(raw.retention) ? raw.retention : undefined;
    if (!ret || typeof ret.messages !== 'number') {
      this.report(
        'SS203',
        ret ? this.root.pos([...base, 'resume', 'retention'], 'key') : pos,
        `resume strategy "${String(raw.strategy)}" has no bound on what the server keeps for replay, so its memory would grow without limit. Add retention: { messages: 1000, seconds: 300 } (messages is required).`,
      );
    }
    return {
      kind: raw.strategy as 'last-event-id' | 'token',
      retention: {
        messages: typeof ret?.messages === 'number' ? ret.messages : 0,
        seconds: typeof ret?.seconds === 'number' ? ret.seconds : undefined,
      },
      pos,
    };
  }

  private heartbeat(raw: unknown, base: Pointer): Heartbeat {
    if (!isObj(raw)) return { ...DEFAULTS.heartbeat, pos: this.root.pos(base, 'key') };
    return {
      intervalMs: parseDuration(raw.interval) ?? DEFAULTS.heartbeat.intervalMs,
      timeoutMs: parseDuration(raw.timeout) ?? DEFAULTS.heartbeat.timeoutMs,
      pos: this.root.pos([...base, 'heartbeat'], 'key'),
    };
  }

  private auth(raw: unknown, base: Pointer): Auth {
    // The shape check has already rejected any other value.
    if (raw === 'required' || raw === 'optional' || raw === 'none') return { kind: raw, pos: this.root.pos([...base, 'auth'], 'value') };
    return { kind: 'default', pos: this.root.pos(base, 'key') };
  }

  // -------------------------------------------------------------------------------------------
  // Schemas

  /** A payload: a `$ref` stays a ref; an inline schema becomes a named type called `key`. */
  private payload(key: string, ptr: Pointer): SchemaNode {
    const value = valueAt(this.root.value, ptr);
    if (isObj(value) && typeof value.$ref === 'string' && Object.keys(value).every((k) => k === '$ref' || k === 'description')) {
      return this.schema(this.root, ptr);
    }
    const unique = this.claim(key);
    const pos = this.root.pos(ptr, 'key');
    // Registered first so a self-reference inside resolves to this key.
    this.keyOfTarget.set(`${this.root.file}#${ptr.join('/')}`, unique);
    const placeholder: NamedType = { key: unique, name: names(unique), schema: { kind: 'unknown', pos }, pos };
    this.types.set(unique, placeholder);
    const schema = this.schema(this.root, ptr);
    this.types.set(unique, { ...placeholder, schema, ...(schema.description ? { description: schema.description } : {}) });
    return { kind: 'ref', target: unique, pos };
  }

  private claim(wanted: string): string {
    let key = wanted;
    for (let i = 2; this.claimed.has(key); i++) key = `${wanted}${i}`;
    this.claimed.add(key);
    return key;
  }


  /** The named type for a `$ref` target, converting it on first sight. */
  private namedFromTarget(t: RefTarget): string {
    const id = `${t.file.file}#${t.pointer.join('/')}`;
    const known = this.keyOfTarget.get(id);
    if (known) return known;
    const last = t.pointer.length ? String(t.pointer[t.pointer.length - 1]) : t.file.file.replace(/^.*\//, '').replace(/\..*$/, '');
    const pos = t.file.pos(t.pointer, 'key');
    const base = isPortableName(last) ? names(last).pascal : looseNames(last).pascal;
    const key = this.claim(base);
    this.keyOfTarget.set(id, key);
    const placeholder: NamedType = { key, name: names(key), schema: { kind: 'unknown', pos }, pos };
    this.types.set(key, placeholder);
    const schema = this.schema(t.file, t.pointer);
    this.types.set(key, { ...placeholder, schema, ...(schema.description ? { description: schema.description } : {}) });
    return key;
  }

  private schema(file: YamlFile, ptr: Pointer): SchemaNode {
    const raw = valueAt(file.value, ptr);
    const pos = file.pos(ptr, 'value');
    const s = isObj(raw) ? raw : {};
    const description = typeof s.description === 'string' ? s.description : typeof s.title === 'string' ? s.title : undefined;
    const d: Meta = {
      ...(description !== undefined ? { description } : {}),
      ...(Array.isArray(s.examples) ? { examples: s.examples as unknown[] } : {}),
      ...(Object.hasOwn(s, 'default') ? { default: s.default } : {}),
    };

    if (typeof s.$ref === 'string') {
      const target = resolveRef(file, s.$ref, this.files);
      // The loader already reported SS209 for an unresolved ref.
      if (!target) return { kind: 'unknown', pos, ...d };
      return { kind: 'ref', target: this.namedFromTarget(target), pos, ...d };
    }
    if (Array.isArray(s.allOf)) return this.allOf(file, ptr, s.allOf.length, pos, d);
    for (const k of ['oneOf', 'anyOf'] as const) {
      const list = s[k];
      if (Array.isArray(list)) {
        return { kind: 'union', variants: list.map((_, i) => this.schema(file, [...ptr, k, i])), pos, ...d };
      }
    }
    if ('const' in s) return { kind: 'literal', value: s.const as string | number | boolean | null, pos, ...d };
    if (Array.isArray(s.enum)) {
      const values = s.enum as unknown[];
      if (values.every((v) => typeof v === 'string')) {
        return { kind: 'enum', values: (values as string[]).map((v) => looseNames(v)), pos, ...d };
      }
      return {
        kind: 'union',
        variants: values.map((v, i) => ({ kind: 'literal', value: v as string | number | boolean | null, pos: file.pos([...ptr, 'enum', i], 'value') })),
        pos,
        ...d,
      };
    }
    if (Array.isArray(s.type)) {
      const variants = (s.type as string[]).map((t) => this.typed(file, ptr, t, s, pos, {}));
      return variants.length === 1 ? { ...variants[0]!, ...d } : { kind: 'union', variants, pos, ...d };
    }
    if (typeof s.type === 'string') return this.typed(file, ptr, s.type, s, pos, d);
    if (isObj(s.properties) || s.additionalProperties !== undefined) return this.typed(file, ptr, 'object', s, pos, d);
    if (s.items !== undefined) return this.typed(file, ptr, 'array', s, pos, d);
    return { kind: 'unknown', pos, ...d };
  }

  private typed(file: YamlFile, ptr: Pointer, type: string, s: Json, pos: SourcePos, d: Meta): SchemaNode {
    const num = (k: string) => (typeof s[k] === 'number' ? { [k]: s[k] as number } : {});
    switch (type) {
      case 'string':
        return {
          kind: 'string',
          pos,
          ...d,
          ...(typeof s.format === 'string' ? { format: s.format } : {}),
          ...(typeof s.pattern === 'string' ? { pattern: s.pattern } : {}),
          ...num('minLength'),
          ...num('maxLength'),
        };
      case 'integer': {
        const f = s.format;
        const format = f === 'int32' || f === 'uint32' || f === 'uint64' || f === 'int64' ? f : 'int64';
        return { kind: 'integer', format, pos, ...d, ...num('minimum'), ...num('maximum'), ...num('exclusiveMinimum'), ...num('exclusiveMaximum') };
      }
      case 'number':
        return {
          kind: 'number',
          format: s.format === 'float' ? 'float' : 'double',
          pos,
          ...d,
          ...num('minimum'),
          ...num('maximum'),
          ...num('exclusiveMinimum'),
          ...num('exclusiveMaximum'),
        };
      case 'boolean':
        return { kind: 'boolean', pos, ...d };
      case 'null':
        return { kind: 'null', pos, ...d };
      case 'array':
        return {
          kind: 'array',
          items: s.items === undefined ? { kind: 'unknown', pos } : this.schema(file, [...ptr, 'items']),
          pos,
          ...d,
          ...num('minItems'),
          ...num('maxItems'),
        };
      default: {
        const props = isObj(s.properties) ? s.properties : {};
        const required = new Set(Array.isArray(s.required) ? s.required.map(String) : []);
        const ap = s.additionalProperties;
        const additional: boolean | SchemaNode =
          ap === undefined || ap === true ? true : ap === false ? false : this.schema(file, [...ptr, 'additionalProperties']);
        if (Object.keys(props).length === 0 && typeof additional === 'object') return { kind: 'map', values: additional, pos, ...d };
        const properties: Property[] = Object.keys(props).map((k) => {
          const schema = this.schema(file, [...ptr, 'properties', k]);
          return {
            name: looseNames(k),
            required: required.has(k),
            schema,
            ...(schema.description ? { description: schema.description } : {}),
            pos: file.pos([...ptr, 'properties', k], 'key'),
          };
        });
        // Property keys are free-form on the wire; only their proto field names must not meet.
        this.collisions('property', properties.map((p) => ({ names: p.name, pos: p.pos })), (n) => n.snake);
        return { kind: 'object', properties, additional, pos, ...d };
      }
    }
  }

  /** `allOf` of object schemas merges into one object; anything else cannot be carried. */
  private allOf(file: YamlFile, ptr: Pointer, n: number, pos: SourcePos, d: Meta): SchemaNode {
    const properties: Property[] = [];
    let additional: boolean | SchemaNode = true;
    for (let i = 0; i < n; i++) {
      let part = this.schema(file, [...ptr, 'allOf', i]);
      const seen = new Set<string>();
      while (part.kind === 'ref' && !seen.has(part.target)) {
        seen.add(part.target);
        part = this.types.get(part.target)?.schema ?? part;
      }
      if (part.kind !== 'object') {
        this.report(
          'SS107',
          file.pos([...ptr, 'allOf', i], 'value'),
          `allOf member ${i + 1} is not an object schema, and only objects can be merged. Use allOf only to combine object schemas, or use oneOf.`,
        );
        continue;
      }
      for (const p of part.properties) {
        const at = properties.findIndex((q) => q.name.wire === p.name.wire);
        if (at >= 0) properties[at] = { ...p, required: p.required || properties[at]!.required };
        else properties.push(p);
      }
      if (part.additional === false) additional = false;
    }
    return { kind: 'object', properties, additional, pos, ...d };
  }
}

/** `/v1/rooms/{roomId}` -> literal and param segments. */
export function parsePath(template: string, pos: SourcePos): StreamPath {
  const segments: StreamPath['segments'][number][] = [];
  const re = /\{([^}]*)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m.index > last) segments.push({ kind: 'literal', text: template.slice(last, m.index) });
    segments.push({ kind: 'param', name: m[1]! });
    last = m.index + m[0].length;
  }
  if (last < template.length) segments.push({ kind: 'literal', text: template.slice(last) });
  return { template, segments, pos };
}
