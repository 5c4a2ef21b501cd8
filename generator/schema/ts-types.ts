// Schema -> TypeScript type expressions and `export type` declarations. The output is valid TS
// as printed (prettier formats it later); every contract string goes through escape.ts.

import type { NamedType, SchemaNode } from '../ir/types.ts';
import { jsDoc, tsPropKey, tsString } from '../render/escape.ts';

/** A type expression for `node`; `ref`s print the target's `name.type`. */
export function tsTypeExpr(node: SchemaNode, types: ReadonlyMap<string, NamedType>): string {
  return print(node, types);
}

/** `/** description *\/ export type Name = ...;` for every named type, in the given order. */
export function tsDeclarations(types: readonly NamedType[]): string {
  const all = new Map(types.map((t) => [t.key, t]));
  return types
    .map((t) => {
      const doc = t.description ?? t.schema.description;
      return `${doc ? `/** ${jsDoc(doc)} */\n` : ''}export type ${t.name.type} = ${print(t.schema, all)};\n`;
    })
    .join('\n');
}

function print(node: SchemaNode, types: ReadonlyMap<string, NamedType>): string {
  switch (node.kind) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'unknown':
      return 'unknown';
    case 'literal':
      return literal(node.value);
    case 'enum':
      return node.values.length ? unique(node.values.map((v) => tsString(v.wire))).join(' | ') : 'never';
    case 'ref': {
      const target = types.get(node.target);
      if (!target) throw new Error(`internal: unresolved ref ${JSON.stringify(node.target)}`);
      return target.name.type;
    }
    case 'array':
      return `${operand(node.items, types)}[]`;
    case 'map':
      return `{ [key: string]: ${print(node.values, types)} }`;
    case 'union':
      return node.variants.length ? unique(node.variants.map((v) => operand(v, types))).join(' | ') : 'never';
    case 'object': {
      const members = node.properties.map((p) => {
        const doc = p.description ?? p.schema.description;
        return `${doc ? `/** ${jsDoc(doc)} */\n` : ''}${tsPropKey(p.name.wire)}${p.required ? '' : '?'}: ${print(p.schema, types)};`;
      });
      const extra = node.additional;
      if (members.length === 0) {
        // No declared keys: the object is exactly its extra keys (or none at all).
        if (extra === false) return '{ [key: string]: never }';
        return `{ [key: string]: ${extra === true ? 'unknown' : print(extra, types)} }`;
      }
      // A documented member starts a line of its own; prettier keeps an object broken over lines
      // when a newline follows its opening brace, so the comments stay above their keys.
      const documented = members.some((m) => m.startsWith('/**'));
      const shape = documented ? `{\n${members.join('\n')}\n}` : `{ ${members.join(' ')} }`;
      // An index signature of the extra type would have to admit every declared property's type
      // too, so extra keys are typed `unknown` and checked by the validator instead.
      return typeof extra === 'object' ? `${shape} & { [key: string]: unknown }` : shape;
    }
  }
}

/** A type usable as an array element or union member: parenthesised when it is itself compound. */
function operand(node: SchemaNode, types: ReadonlyMap<string, NamedType>): string {
  const text = print(node, types);
  const compound =
    node.kind === 'union' ||
    (node.kind === 'enum' && node.values.length > 1) ||
    (node.kind === 'object' && typeof node.additional === 'object' && node.properties.length > 0) ||
    (node.kind === 'literal' && typeof node.value === 'number' && node.value < 0);
  return compound ? `(${text})` : text;
}

function literal(value: string | number | boolean | null): string {
  if (typeof value === 'string') return tsString(value);
  // Infinity/NaN have no literal type.
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'number';
  return String(value);
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
