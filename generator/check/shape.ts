// The shape check: the contract against spec/streamspec.schema.json (the same schema editors use
// for completion), with each ajv error turned into one SS1xx diagnostic at the key or value it
// is about, saying what is wrong and what to write instead.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import schema from '../../spec/streamspec.schema.json' with { type: 'json' };
import { diagnostic, sortDiagnostics, type Code, type Diagnostic } from '../diagnostics.ts';
import { collectRefs, dottedPath as dotted, resolveRef } from '../load/load.ts';
import type { Pointer, YamlFile } from '../load/types.ts';
import { didYouMean } from './did-you-mean.ts';
import { fromJsonPointer } from '../load/pointer.ts';

type SchemaObject = Record<string, unknown> & {
  title?: string;
  description?: string;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  patternProperties?: Record<string, unknown>;
  additionalProperties?: SchemaObject | boolean;
  patternErrorMessage?: string;
  $ref?: string;
};

const ROOT = schema as unknown as SchemaObject;
const SCHEMA_KEYWORDS = (ROOT.$defs as Record<string, SchemaObject>).schemaKeywords;

let validators: { contract: ValidateFunction; schema: ValidateFunction } | undefined;

function validate() {
  if (!validators) {
    // strictTypes off: `schemaKeywords` carries no `type` on purpose, so it serves both schemas
    // (objects) and additionalProperties (boolean or object).
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false });
    // Read by VS Code and yaml-language-server too, so editors and `streamspec check` say the same.
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    ajv.addSchema(ROOT, 'streamspec');
    validators = { contract: ajv.getSchema('streamspec')!, schema: ajv.compile({ $ref: 'streamspec#/$defs/schema' }) };
  }
  return validators;
}

/**
 * The contract against the format's schema. With `files` (from `loadContract`), every schema a
 * `$ref` reaches in another file is checked too, as a schema, and reported in that file.
 */
export function checkShape(root: YamlFile, files?: ReadonlyMap<string, YamlFile>): Diagnostic[] {
  const { contract, schema } = validate();
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const add = (d: Diagnostic) => {
    const key = `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`;
    if (!seen.has(key)) (seen.add(key), out.push(d));
  };
  if (!contract(root.value)) for (const e of bestMatch(contract.errors ?? [])) add(toDiagnostic(root, [], root.value, e, true));

  const checked = new Set<string>();
  for (const file of files?.values() ?? []) {
    for (const { ref } of collectRefs(file.value)) {
      const target = resolveRef(file, ref, files!);
      if (!target || target.file === root) continue;
      const key = JSON.stringify([target.file.file, ...target.pointer]);
      if (checked.has(key)) continue;
      checked.add(key);
      if (!schema(target.value))
        for (const e of bestMatch(schema.errors ?? [])) add(toDiagnostic(target.file, target.pointer, target.value, e, false));
    }
  }
  return sortDiagnostics(out);
}

// ---------------------------------------------------------------------------------------------
// Noise reduction

/**
 * For each failed anyOf/oneOf, keeps the errors of one branch: the first whose `type` fits the
 * value (so `type: strnig` is reported as a bad type name, not also as "not a list"); when no
 * branch fits, one type error naming every branch's type. Branches must be written inline in the
 * schema (not through `$ref`) so their errors carry the union's schemaPath as a prefix.
 */
function bestMatch(errors: readonly ErrorObject[]): ErrorObject[] {
  let out = [...errors];
  for (const union of errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')) {
    const prefix = `${union.schemaPath}/`;
    // ajv restarts schemaPath at each $ref target, so a path is unique only with its instance path.
    const at = union.instancePath;
    const inside = out.filter((e) => e.schemaPath.startsWith(prefix) && (e.instancePath === at || e.instancePath.startsWith(`${at}/`)));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const branch = e.schemaPath.slice(prefix.length).split('/')[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const fits = [...branches].find(
      ([branch, errs]) =>
        !errs.some((e) => e.keyword === 'type' && e.instancePath === union.instancePath && e.schemaPath === `${prefix}${branch}/type`),
    );
    out = out.filter((e) => e !== union && !inside.includes(e));
    if (fits) {
      out.push(...fits[1]);
    } else {
      const types = inside
        .filter((e) => e.keyword === 'type' && e.instancePath === union.instancePath)
        .flatMap((e) => typeList(e.params.type));
      out.push({ ...union, keyword: 'type', params: { type: [...new Set(types)] }, parentSchema: union.parentSchema });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One ajv error -> one diagnostic

/** `base` is where the validated value sits in `file` (a contract is validated whole, from []). */
function toDiagnostic(file: YamlFile, base: Pointer, baseValue: unknown, error: ErrorObject, isContract: boolean): Diagnostic {
  const pointer = [...base, ...fromJsonPointer(baseValue, error.instancePath)];
  const parent = (error.parentSchema ?? {}) as SchemaObject;
  const value = error.data;
  const where = dotted(pointer);
  // Identified by title: ajv's schemaPath restarts at every $ref target, so it cannot tell.
  const isDuration = parent.title === 'duration';
  const valueAt = file.pos(pointer, 'value');
  const report = (code: Code, message: string, at = valueAt) => diagnostic(code, at, message);

  if (isContract && pointer.length === 1 && pointer[0] === 'streamspec') {
    return report(
      'SS106',
      typeof value === 'number'
        ? `streamspec is the number ${value}, not the string "1.0". Write streamspec: "1.0", with the quotes.`
        : `streamspec is ${show(value)}, but this generator reads StreamSpec "1.0" only. Write streamspec: "1.0".`,
    );
  }

  switch (error.keyword) {
    case 'required': {
      const name = String(error.params.missingProperty);
      const desc = describe(parent.properties?.[name]);
      const advice = desc ? `Add "${name}", ${desc}.` : `Add "${name}".`;
      return report('SS102', `${where || 'The document'} has no "${name}". ${advice}`, file.pos(pointer));
    }
    case 'minProperties': {
      const entry = resolveSchema(parent.additionalProperties)?.title;
      return report('SS102', `${where || 'The document'} is empty. Add at least one ${entry ?? 'entry'}.`, file.pos(pointer));
    }
    case 'additionalProperties':
      return unknownField(file, pointer, String(error.params.additionalProperty), parent);
    case 'type': {
      const types = typeList(error.params.type);
      if (isDuration) return report('SS108', `${where} is ${show(value)}, which is not a duration. ${durationAdvice()}`);
      return report(
        'SS104',
        `${where || 'The document'} is ${show(value)}, which is not ${types.map(typeNoun).join(' or ')}. ${typeAdvice(types, value, parent)}`,
      );
    }
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[]).map(String);
      const guess = typeof value === 'string' ? didYouMean(value, allowed) : undefined;
      return report(
        'SS105',
        `${where} is ${show(value)}, which is not ${article(parent.title ?? 'allowed value')}. Use one of: ${allowed.join(', ')}.${guess ? ` Did you mean "${guess}"?` : ''}`,
      );
    }
    case 'pattern': {
      const advice = parent.patternErrorMessage ?? `Write a value that matches ${String(error.params.pattern)}.`;
      if (isDuration) return report('SS108', `${where} is ${show(value)}, which is not a duration. ${advice}`);
      return report('SS105', `${where} is ${show(value)}, which is not a valid ${parent.title ?? 'value'}. ${advice}`);
    }
    case 'minimum':
    case 'exclusiveMinimum': {
      const limit = Number(error.params.limit);
      const least = error.keyword === 'minimum' ? `${limit} or more` : `more than ${limit}`;
      return report('SS105', `${where} is ${show(value)}, which is below the minimum of ${limit}. Use ${least}.`);
    }
    case 'minItems': {
      const limit = Number(error.params.limit);
      const n = Array.isArray(value) ? value.length : 0;
      const what = n === 0 ? 'an empty list' : `a list of ${n}`;
      return report(
        'SS105',
        `${where} is ${what}. List at least ${limit} item${limit === 1 ? '' : 's'}, or remove ${lastSegment(pointer)}.`,
      );
    }
    case 'uniqueItems': {
      const later = Math.max(Number(error.params.i), Number(error.params.j));
      const item = Array.isArray(value) ? value[later] : undefined;
      return report('SS105', `${where} lists ${show(item)} twice. Remove the second one.`, file.pos([...pointer, later], 'value'));
    }
    default:
      // Every keyword the format's schema uses is handled above; this keeps a new one visible.
      return report(
        'SS105',
        `${where || 'The document'} is not allowed here: ${error.message ?? error.keyword}. Check it against spec/streamspec.schema.json.`,
      );
  }
}

function unknownField(file: YamlFile, pointer: Pointer, key: string, parent: SchemaObject): Diagnostic {
  const at = file.pos([...pointer, key], 'key');
  const path = dotted([...pointer, key]);
  const inSchema = parent === SCHEMA_KEYWORDS;
  const unsupported = inSchema ? UNSUPPORTED[key] : undefined;
  if (unsupported) {
    const owner = dotted(pointer);
    return diagnostic('SS107', at, `${owner} uses "${key}", ${unsupported[0]}. ${unsupported[1]}`);
  }
  const known = Object.keys(parent.properties ?? {});
  const what =
    pointer.length === 0
      ? `${path} is not a top-level field.`
      : inSchema
        ? `${path} is not a schema keyword streamspec supports.`
        : `${path} is not ${article(parent.title ?? 'known')} field.`;
  const guess = didYouMean(key, known);
  const extensible = parent.patternProperties && '^x-' in parent.patternProperties;
  const advice = guess
    ? `Did you mean "${guess}"?`
    : extensible
      ? `Remove it, or prefix it with "x-" to keep it as an extension.`
      : `Remove it; the fields here are ${known.join(', ')}.`;
  return diagnostic('SS103', at, `${what} ${advice}`);
}

// JSON Schema keywords that have no TS type, validator or proto counterpart streamspec can
// generate: why not, and what to write instead.
const CONDITIONAL: [string, string] = [
  'a conditional schema streamspec cannot turn into a TS type or a proto message',
  'Use oneOf with a const property on each variant instead.',
];
const UNSUPPORTED: Record<string, [string, string]> = {
  if: CONDITIONAL,
  then: CONDITIONAL,
  else: CONDITIONAL,
  not: ['a negation no TS type or proto message can express', 'Describe the allowed values with enum, pattern or oneOf instead.'],
  patternProperties: [
    'which no TS type or proto message can express',
    'Use additionalProperties with a schema for a map, or list the properties.',
  ],
  propertyNames: [
    'which no TS type or proto message can express',
    'Use additionalProperties with a schema for a map, and check the keys in the handler.',
  ],
  dependentSchemas: ['a dependency streamspec cannot turn into a TS type', 'Use oneOf with a variant for each case instead.'],
  dependentRequired: [
    'a dependency streamspec cannot turn into a TS type',
    'Group the fields that go together in a nested object, or use oneOf variants.',
  ],
  dependencies: [
    'a draft-07 dependency streamspec cannot turn into a TS type',
    'Group the fields that go together in a nested object, or use oneOf variants.',
  ],
  unevaluatedProperties: ['which streamspec does not support', 'Use additionalProperties: false instead.'],
  unevaluatedItems: ['which streamspec does not support', 'Use items instead.'],
  contains: ['which streamspec does not support', 'Constrain every item with items instead, and check the rest in the handler.'],
  minContains: ['which streamspec does not support', 'Constrain every item with items instead, and check the rest in the handler.'],
  maxContains: ['which streamspec does not support', 'Constrain every item with items instead, and check the rest in the handler.'],
  prefixItems: ['a tuple streamspec cannot turn into a proto message', 'Use an object with named properties instead.'],
  $dynamicRef: ['which streamspec does not support', 'Use $ref to a components.schemas entry instead; recursive $refs are allowed.'],
  $dynamicAnchor: ['which streamspec does not support', 'Refer to the schema by $ref to its components.schemas entry instead.'],
  $recursiveRef: ['which streamspec does not support', 'Use $ref to a components.schemas entry instead; recursive $refs are allowed.'],
  $recursiveAnchor: ['which streamspec does not support', 'Refer to the schema by $ref to its components.schemas entry instead.'],
  $anchor: ['which streamspec does not support', 'Refer to the schema by $ref to its components.schemas entry instead.'],
  $id: ['which streamspec does not support', 'Refer to the schema by $ref to its components.schemas entry instead.'],
  $schema: [
    'which streamspec does not support inside a contract',
    'Remove it; every schema in a contract is the streamspec subset of JSON Schema 2020-12.',
  ],
  $vocabulary: [
    'which streamspec does not support inside a contract',
    'Remove it; every schema in a contract is the streamspec subset of JSON Schema 2020-12.',
  ],
  $defs: ['which streamspec does not support inside a schema', 'Move the schemas to components.schemas and $ref them there.'],
  definitions: ['which streamspec does not support inside a schema', 'Move the schemas to components.schemas and $ref them there.'],
  multipleOf: ['a constraint streamspec does not generate', 'State it in description and check it in the handler.'],
  uniqueItems: ['a constraint streamspec does not generate', 'State it in description and check it in the handler.'],
  minProperties: ['a constraint streamspec does not generate', 'List the properties and mark them required instead.'],
  maxProperties: ['a constraint streamspec does not generate', 'State it in description and check it in the handler.'],
  contentEncoding: ['which streamspec does not support', 'Use format (such as byte) and describe the encoding in description.'],
  contentMediaType: ['which streamspec does not support', 'Describe the media type in description.'],
  contentSchema: ['which streamspec does not support', 'Parse the content in the handler, or model it as a nested object.'],
  nullable: ['an OpenAPI 3.0 keyword, not JSON Schema 2020-12', 'Add "null" to type instead, such as type: [string, "null"].'],
  discriminator: ['an OpenAPI keyword, not JSON Schema 2020-12', 'Use oneOf with a const property on each variant instead.'],
};

// ---------------------------------------------------------------------------------------------
// Wording

function lastSegment(pointer: Pointer): string {
  const last = pointer[pointer.length - 1];
  return last === undefined ? 'it' : `"${String(last)}"`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

function typeList(type: unknown): string[] {
  return (Array.isArray(type) ? type : String(type).split(',')).map(String);
}

const TYPE_NOUN: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};
const typeNoun = (t: string) => TYPE_NOUN[t] ?? t;

function typeAdvice(types: readonly string[], value: unknown, parent: SchemaObject): string {
  if (parent.title === 'schema or boolean')
    return 'Write false (no other keys), true (any other keys) or a schema for the values of a map.';
  if (parent.title === 'JSON Schema type') return 'Write a type name such as string, or a list of them such as [string, "null"].';
  if (types.length > 1) return `Write ${types.map(typeNoun).join(' or ')} here.`;
  const numeric = typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value));
  switch (types[0]) {
    case 'object':
      if (parent.title === 'schema') return 'Write a schema here, such as { type: string } or { $ref: "#/components/schemas/Name" }.';
      return parent.required?.length
        ? `Write a mapping with at least: ${parent.required.join(', ')}.`
        : 'Write a mapping of keys to values here.';
    case 'array':
      return 'Write a list here, such as [A, B] or one "- item" per line.';
    case 'string':
      return typeof value === 'number' || typeof value === 'boolean'
        ? 'Quote it so YAML reads it as a string.'
        : 'Write a single string here.';
    case 'integer':
      return numeric ? 'Write the number without quotes.' : 'Write a whole number here.';
    case 'number':
      return numeric ? 'Write the number without quotes.' : 'Write a number here.';
    case 'boolean':
      return 'Write true or false.';
    default:
      return `Write ${typeNoun(types[0] ?? 'a value')} here.`;
  }
}

function durationAdvice(): string {
  return (resolveSchema({ $ref: '#/$defs/duration' })?.patternErrorMessage as string | undefined) ?? '';
}

/** A `$ref` inside the format's own schema, followed one step. */
function resolveSchema(s: SchemaObject | boolean | undefined): SchemaObject | undefined {
  if (!s || typeof s !== 'object') return undefined;
  if (typeof s.$ref === 'string' && s.$ref.startsWith('#/$defs/')) {
    const defs = ROOT.$defs as Record<string, SchemaObject>;
    const target = defs[s.$ref.slice('#/$defs/'.length)];
    return target ? { ...target, ...s } : s;
  }
  return s;
}

/** The first sentence of a field's description, lowercased to follow "Add "x", ", without its period. */
function describe(s: SchemaObject | undefined): string | undefined {
  const desc = resolveSchema(s)?.description;
  if (!desc) return undefined;
  const first = desc.split(/(?<=\.)\s/)[0]!.replace(/\.$/, '');
  return /^[A-Z][a-z]/.test(first) ? first.charAt(0).toLowerCase() + first.slice(1) : first;
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
