// Schemas out of an AsyncAPI document and the files it references, into the one self-contained
// StreamSpec document: every `$ref` a schema makes, in whatever file, becomes
// `#/components/schemas/<Name>`, and its target is copied there once. A root
// `components.schemas` entry keeps its own name; any other target is named after its last
// pointer segment. Only what a stream reaches is copied, so an unused schema streamspec cannot
// carry does not stop the conversion.

import { diagnostic, type Diagnostic } from '../../diagnostics.ts';
import { resolveRef } from '../load.ts';
import type { Pointer, YamlFile } from '../types.ts';
import type { Loc, Origins } from './origins.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// Values, not schemas: copied as they are, `$ref`s and all. Under a map of names the same words are names.
const DATA_KEYS = new Set(['default', 'const', 'enum', 'examples', 'example']);
const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
// AsyncAPI Schema Object keywords that only document or hint: no TS type or validator depends on them.
const DROPPED = new Set(['externalDocs', 'discriminator']);

export class SchemaCopier {
  /** `file#pointer` of a target -> its name in components.schemas. */
  private readonly names = new Map<string, string>();
  private readonly taken = new Set<string>();
  /** Root components.schemas names, kept for those entries even when a later one wants them. */
  private readonly reserved = new Map<string, string>();
  private readonly pending: { name: string; target: Loc }[] = [];
  private readonly copied = new Map<string, unknown>();
  private readonly order: string[] = [];

  constructor(
    private readonly root: YamlFile,
    private readonly files: ReadonlyMap<string, YamlFile>,
    private readonly origins: Origins,
    private readonly diagnostics: Diagnostic[],
  ) {
    const doc = root.value as Json;
    const schemas = isObj(doc.components) && isObj(doc.components.schemas) ? doc.components.schemas : {};
    for (const name of Object.keys(schemas)) {
      const safe = this.claim(safeName(name));
      this.reserved.set(JSON.stringify([root.file, 'components', 'schemas', name]), safe);
    }
  }

  /** Copies the schema at `from` into the synthetic document at `at`, with its `$ref`s rewritten. */
  copy(from: Loc, at: Pointer): unknown {
    this.origins.set(at, from);
    return this.walk(from.file, from.pointer, from.value, undefined);
  }

  /** components.schemas of the synthetic document: root entries in their order, then the rest as found. */
  components(): Json {
    for (let next = this.pending.shift(); next; next = this.pending.shift()) {
      this.copied.set(next.name, this.copy(next.target, ['components', 'schemas', next.name]));
    }
    const rootNames = [...this.reserved.values()];
    const names = [...rootNames.filter((n) => this.copied.has(n)), ...this.order.filter((n) => !rootNames.includes(n))];
    return Object.fromEntries(names.map((n) => [n, this.copied.get(n)]));
  }

  private walk(file: YamlFile, pointer: Pointer, value: unknown, parentKey: string | undefined): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.walk(file, [...pointer, i], item, undefined));
    if (!isObj(value)) return value;
    const names = parentKey !== undefined && NAME_MAPS.has(parentKey);
    if (!names) {
      const only = soleSchemaOfAllOf(value);
      if (only !== undefined) {
        // `allOf: [{ $ref }, { description }]` is how draft-07 documents a reference; it is that reference.
        const { allOf: _, ...rest } = value;
        const notes = (value.allOf as Json[]).filter((_, i) => i !== only);
        const merged = this.walk(file, [...pointer, 'allOf', only], (value.allOf as unknown[])[only], undefined) as Json;
        return Object.assign({}, ...notes.map((n) => structuredClone(n)), this.walk(file, pointer, rest, parentKey), merged);
      }
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      if (names) {
        out[k] = this.walk(file, [...pointer, k], v, undefined);
      } else if (k === '$ref' && typeof v === 'string') {
        out[k] = this.refTo(file, [...pointer, k], v);
      } else if (DROPPED.has(k) || DATA_KEYS.has(k) || k.startsWith('x-')) {
        if (!DROPPED.has(k)) out[k] = structuredClone(v);
      } else {
        out[k] = this.walk(file, [...pointer, k], v, k);
      }
    }
    return out;
  }

  /** The local `$ref` that stands for `ref` as written in `file`, queueing its target's copy. */
  private refTo(file: YamlFile, at: Pointer, ref: string): string {
    const target = resolveRef(file, ref, this.files);
    if (!target) {
      // The loader reports refs outside extensions; one inside x-streamspec is reported here.
      if (at.some((seg) => typeof seg === 'string' && seg.startsWith('x-'))) {
        this.diagnostics.push(
          diagnostic('SS209', file.pos(at, 'value'), `$ref "${ref}" does not resolve. Point it at a schema in this document or in a file next to it.`),
        );
      }
      return ref;
    }
    const id = JSON.stringify([target.file.file, ...target.pointer]);
    let name = this.names.get(id);
    if (name === undefined) {
      name = this.reserved.get(id) ?? this.claim(safeName(nameOf(target.file, target.pointer)));
      this.names.set(id, name);
      this.order.push(name);
      this.pending.push({ name, target });
    }
    return `#/components/schemas/${name}`;
  }

  private claim(wanted: string): string {
    let name = wanted;
    for (let i = 2; this.taken.has(name); i++) name = `${wanted}${i}`;
    this.taken.add(name);
    return name;
  }
}

// Keywords that describe a schema without constraining it.
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$comment']);

/** The index of the one allOf member that constrains, when every other member only annotates. */
function soleSchemaOfAllOf(value: Json): number | undefined {
  const list = value.allOf;
  if (!Array.isArray(list) || list.length < 2) return undefined;
  const constraining = list.map((m, i) => (isObj(m) && Object.keys(m).every((k) => ANNOTATIONS.has(k)) ? -1 : i)).filter((i) => i >= 0);
  return constraining.length === 1 ? constraining[0] : undefined;
}

/** A target's name: its key, or for a message's payload the message's name. */
function nameOf(file: YamlFile, pointer: Pointer): string {
  const last = pointer[pointer.length - 1];
  if (last === undefined) return file.file.replace(/^.*\//, '').replace(/\..*$/, '');
  const before = pointer[pointer.length - 2];
  if ((last === 'payload' || last === 'schema') && before !== undefined) return `${String(before)}Payload`;
  return String(last);
}

/** A components.schemas key that needs no escaping in a JSON Pointer and reads as a type name. */
function safeName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[^A-Za-z]+/, '');
  return cleaned === '' ? `Schema${name.replace(/[^0-9]/g, '')}` : cleaned;
}
