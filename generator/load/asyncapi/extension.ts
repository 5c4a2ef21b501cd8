// The x-streamspec extension: checked against spec/x-streamspec.schema.json (which reuses the
// StreamSpec definitions, so a field means the same in both), each mistake one located SS401.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import streamspecSchema from '../../../spec/streamspec.schema.json' with { type: 'json' };
import extensionSchema from '../../../spec/x-streamspec.schema.json' with { type: 'json' };
import { didYouMean } from '../../check/did-you-mean.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics.ts';
import { dottedPath } from '../load.ts';
import { fromJsonPointer } from '../pointer.ts';
import type { Pointer, YamlFile } from '../types.ts';

export type ExtensionKind = 'stream' | 'document';

let validators: Record<ExtensionKind, ValidateFunction> | undefined;

function validator(kind: ExtensionKind): ValidateFunction {
  if (!validators) {
    // verbose: errors carry the value and the schema they failed, for the wording below.
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: false });
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    // Keyed by file name, so the extension schema's relative $refs resolve here as in an editor.
    ajv.addSchema(streamspecSchema as object, 'streamspec.schema.json');
    ajv.addSchema(extensionSchema as object, 'x-streamspec.schema.json');
    validators = {
      stream: ajv.getSchema('x-streamspec.schema.json#/$defs/stream')!,
      document: ajv.getSchema('x-streamspec.schema.json#/$defs/document')!,
    };
  }
  return validators[kind];
}

/** Checks the x-streamspec value at `pointer` of `file`; empty when it is well formed. */
export function checkExtension(file: YamlFile, pointer: Pointer, value: unknown, kind: ExtensionKind): Diagnostic[] {
  const validate = validator(kind);
  if (validate(value)) return [];
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  // One error per place: a failed `anyOf` (a schema's `type`) repeats what its branches say.
  for (const e of validate.errors ?? []) {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf' || e.keyword === 'if') continue;
    const key = `${e.instancePath}|${e.keyword === 'additionalProperties' ? String(e.params.additionalProperty) : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(toDiagnostic(file, pointer, value, e));
  }
  return out;
}

function toDiagnostic(file: YamlFile, base: Pointer, value: unknown, e: ErrorObject): Diagnostic {
  const inner = fromJsonPointer(value, e.instancePath);
  const where = dottedPath(['x-streamspec', ...inner]);
  const at = file.pos([...base, ...inner], 'value');
  const parent = (e.parentSchema ?? {}) as { title?: string; patternErrorMessage?: string; properties?: Record<string, unknown> };
  const report = (message: string, pos = at) => diagnostic('SS401', pos, message);
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(e.params.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      const guess = didYouMean(field, known);
      return report(
        `${dottedPath(['x-streamspec', ...inner, field])} is not an x-streamspec field here. ${guess ? `Did you mean "${guess}"?` : `Remove it; the fields here are ${known.join(', ')}.`}`,
        file.pos([...base, ...inner, field], 'key'),
      );
    }
    case 'required':
      return report(`${where} has no "${String(e.params.missingProperty)}". Add it.`, file.pos([...base, ...inner], 'key'));
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map(String);
      const guess = typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined;
      return report(`${where} is ${show(e.data)}, which is not one of: ${allowed.join(', ')}.${guess ? ` Did you mean "${guess}"?` : ''}`);
    }
    case 'type':
      return report(`${where} is ${show(e.data)}, which is not ${article(String(e.params.type))}. Write ${article(String(e.params.type))} here.`);
    case 'pattern':
      return report(`${where} is ${show(e.data)}, which is not a valid ${parent.title ?? 'value'}. ${parent.patternErrorMessage ?? `Write a value that matches ${String(e.params.pattern)}.`}`);
    case 'minimum':
      return report(`${where} is ${show(e.data)}, which is below the minimum of ${String(e.params.limit)}. Use ${String(e.params.limit)} or more.`);
    default:
      return report(`${where} is not allowed here: ${e.message ?? e.keyword}. Check it against spec/x-streamspec.schema.json.`);
  }
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

function article(type: string): string {
  const noun: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean' };
  return type
    .split(',')
    .map((t) => noun[t] ?? t)
    .join(' or ');
}
