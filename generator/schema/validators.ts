// Schema -> runtime validator source. The generated code is plain TS that needs nothing but the
// small runtime in templates/runtime/validation.ts, imported as a namespace (`rt`), so it runs in
// a browser bundle. Every contract string reaches the output through `tsString`; patterns are
// compiled from string literals with `new RegExp(..., 'u')`, so no schema can inject code.
//
// Generated shape, per named type:
//   export function check<Type>(v: unknown, path: string, out: rt.Issue[]): void { ... }
// Checks push `{ path, message }` issues and never throw; refs call each other's functions by
// name, so recursive schemas work. Locals are `$`-prefixed and numbered so they cannot clash
// with the caller's names (`v`, `path`, `out`) or with each other.

import { formats, IDENTIFIER } from '../../templates/runtime/validation.ts';
import type { NamedType, SchemaNode } from '../ir/types.ts';
import { tsString } from '../render/escape.ts';

/** The namespace the generated code calls the runtime through. */
export const RUNTIME_NAMESPACE = 'rt';

/** The import line a file holding generated checks needs, e.g. `validationImport('./runtime/validation.js')`. */
export function validationImport(specifier: string): string {
  return `import * as ${RUNTIME_NAMESPACE} from ${tsString(specifier)};\n`;
}

/** The name of the function that checks values of `type`. */
export function checkFunctionName(type: NamedType): string {
  return `check${type.name.type}`;
}

/**
 * Why `source` cannot be compiled as a JavaScript `u`-flag regular expression, or undefined when
 * it can. The contract checks should report this; the printer throws on it as a last resort.
 */
export function patternError(source: string): string | undefined {
  try {
    new RegExp(source, 'u');
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Module-level compiled patterns, shared by every check printed into one file. */
export interface PatternPool {
  /** The identifier of the compiled pattern for `source`. */
  ref(source: string): string;
  /** `const $reN = new RegExp("...", "u");` lines for every pattern referenced so far. */
  declarations(): string;
}

export function createPatternPool(): PatternPool {
  const ids = new Map<string, string>();
  return {
    ref(source) {
      let id = ids.get(source);
      if (id === undefined) {
        id = `$re${ids.size}`;
        ids.set(source, id);
      }
      return id;
    },
    declarations() {
      return [...ids].map(([source, id]) => `const ${id} = new RegExp(${tsString(source)}, "u");\n`).join('');
    },
  };
}

/**
 * One `export function check<Type>` per type, preceded by its compiled patterns. Pass `patterns`
 * to share one pool with `checkStatements` in the same file; the caller then prints
 * `patterns.declarations()` once itself.
 */
export function validatorDeclarations(
  types: readonly NamedType[],
  allTypes: ReadonlyMap<string, NamedType>,
  patterns?: PatternPool,
): string {
  const pool = patterns ?? createPatternPool();
  const fns = types.map((t) => {
    const body = new Printer(allTypes, pool).check(t.schema, 'v', 'path', 'out', false);
    return [
      `export function ${checkFunctionName(t)}(v: unknown, path: string, out: ${RUNTIME_NAMESPACE}.Issue[]): void {`,
      ...indent(body),
      '}',
      '',
    ].join('\n');
  });
  return (patterns ? '' : pool.declarations() + (pool.declarations() ? '\n' : '')) + fns.join('\n');
}

/**
 * Statements that check the value of `valueExpr` against an inline `node`, pushing issues onto
 * `outExpr` at paths built from `pathExpr` (both evaluated only where needed and free of side
 * effects). Wrapped in a block so its locals stay private. Without a shared `patterns` pool,
 * patterns are compiled where they are used.
 */
export function checkStatements(
  node: SchemaNode,
  valueExpr: string,
  pathExpr: string,
  outExpr: string,
  allTypes: ReadonlyMap<string, NamedType>,
  patterns?: PatternPool,
): string {
  const body = new Printer(allTypes, patterns).check(node, valueExpr, pathExpr, outExpr, false);
  return body.length ? ['{', ...indent(body), '}', ''].join('\n') : '';
}

const rt = (name: string) => `${RUNTIME_NAMESPACE}.${name}`;
const indent = (lines: string[]) => lines.map((l) => (l ? `  ${l}` : l));
const num = (n: number) =>
  Number.isNaN(n) ? undefined : Number.isFinite(n) ? String(n) : n > 0 ? 'Infinity' : '-Infinity';

class Printer {
  private n = 0;
  constructor(
    private readonly types: ReadonlyMap<string, NamedType>,
    private readonly patterns: PatternPool | undefined,
  ) {}

  private fresh(prefix: string): string {
    return `$${prefix}${++this.n}`;
  }

  /** Lines checking `v`; `nullable` only widens the "expected ..." message (the caller handled null). */
  check(node: SchemaNode, v: string, p: string, o: string, nullable: boolean): string[] {
    if (node.kind === 'unknown') return [];
    if (node.kind === 'ref') return [`${checkFunctionName(this.target(node.target))}(${v}, ${p}, ${o});`];
    // Narrowing needs a plain identifier, and the value is read more than once.
    if (!/^[$\w]+$/.test(v)) {
      const id = this.fresh('v');
      const rest = this.check(node, id, p, o, nullable);
      return rest.length ? [`const ${id} = ${v};`, ...rest] : [];
    }
    const fail = (message: string) => `${rt('fail')}(${o}, ${p}, ${tsString(message)});`;
    const typed = (test: string, constraints: string[]) => {
      const miss = `${rt('expected')}(${o}, ${p}, ${tsString(describe(node, this.types) + (nullable ? ' or null' : ''))}, ${v});`;
      return constraints.length
        ? [`if (!(${test})) ${miss}`, 'else {', ...indent(constraints), '}']
        : [`if (!(${test})) ${miss}`];
    };
    const bound = (cmp: string, limit: number | undefined, message: string) => {
      const lit = limit === undefined ? undefined : num(limit);
      return lit === undefined ? [] : [`if (${v} ${cmp} ${lit}) ${fail(`${message} ${lit}`)}`];
    };
    switch (node.kind) {
      case 'string': {
        const c: string[] = [];
        if (node.minLength !== undefined || node.maxLength !== undefined) {
          const len = this.fresh('n');
          c.push(`const ${len} = ${rt('length')}(${v});`);
          if (node.minLength !== undefined)
            c.push(`if (${len} < ${node.minLength}) ${fail(`must be at least ${node.minLength} characters long`)}`);
          if (node.maxLength !== undefined)
            c.push(`if (${len} > ${node.maxLength}) ${fail(`must be at most ${node.maxLength} characters long`)}`);
        }
        if (node.pattern !== undefined) {
          const err = patternError(node.pattern);
          if (err !== undefined) throw new Error(`pattern ${JSON.stringify(node.pattern)} is not valid: ${err}`);
          const re = this.patterns ? this.patterns.ref(node.pattern) : `new RegExp(${tsString(node.pattern)}, "u")`;
          c.push(`if (!${re}.test(${v})) ${fail(`must match the pattern ${JSON.stringify(node.pattern)}`)}`);
        }
        // Formats the runtime does not know are documentation only, as JSON Schema allows.
        if (node.format !== undefined && Object.hasOwn(formats, node.format)) {
          c.push(`if (!${rt('formats')}[${tsString(node.format)}]!(${v})) ${fail(`must be a valid ${node.format}`)}`);
        }
        return typed(`typeof ${v} === "string"`, c);
      }
      case 'number':
      case 'integer':
        return typed(`typeof ${v} === "number"`, [
          ...(node.kind === 'integer'
            ? [
                `if (!${rt('isInt')}(${v}, ${tsString(node.format)})) ${fail(`must be an integer in the ${node.format} range`)}`,
              ]
            : []),
          ...bound('<', node.minimum, 'must be >='),
          ...bound('>', node.maximum, 'must be <='),
          ...bound('<=', node.exclusiveMinimum, 'must be >'),
          ...bound('>=', node.exclusiveMaximum, 'must be <'),
        ]);
      case 'boolean':
        return typed(`typeof ${v} === "boolean"`, []);
      case 'null':
        return typed(`${v} === null`, []);
      case 'enum':
      case 'literal': {
        const test = matchTest(node, v);
        return [`if (!(${test})) ${fail(`must be ${describe(node, this.types)}${nullable ? ' or null' : ''}`)}`];
      }
      case 'array': {
        const i = this.fresh('i');
        const items = this.check(node.items, `${v}[${i}]`, `${rt('join')}(${p}, ${i})`, o, false);
        return typed(`Array.isArray(${v})`, [
          ...(node.minItems !== undefined
            ? [`if (${v}.length < ${node.minItems}) ${fail(`must have at least ${node.minItems} items`)}`]
            : []),
          ...(node.maxItems !== undefined
            ? [`if (${v}.length > ${node.maxItems}) ${fail(`must have at most ${node.maxItems} items`)}`]
            : []),
          ...(items.length ? [`for (let ${i} = 0; ${i} < ${v}.length; ${i}++) {`, ...indent(items), '}'] : []),
        ]);
      }
      case 'map': {
        const k = this.fresh('k');
        const values = this.check(node.values, `${v}[${k}]`, `${rt('join')}(${p}, ${k})`, o, false);
        return typed(
          `${rt('isObject')}(${v})`,
          values.length ? [`for (const ${k} of Object.keys(${v})) {`, ...indent(values), '}'] : [],
        );
      }
      case 'object': {
        const c: string[] = [];
        for (const prop of node.properties) {
          const key = tsString(prop.name.wire);
          // The path is built for every valid message too (it is passed down to nested checks): a
          // key known here to be an identifier skips join's regex.
          const at = IDENTIFIER.test(prop.name.wire) ? 'dot' : 'join';
          const inner = this.check(prop.schema, `${v}[${key}]`, `${rt(at)}(${p}, ${key})`, o, false);
          const missing = fail(`missing required property ${JSON.stringify(prop.name.wire)}`);
          if (inner.length)
            c.push(`if (${rt('hasOwn')}(${v}, ${key})) {`, ...indent(inner), prop.required ? `} else ${missing}` : '}');
          else if (prop.required) c.push(`if (!${rt('hasOwn')}(${v}, ${key})) ${missing}`);
        }
        if (node.additional !== true) {
          const k = this.fresh('k');
          const known = node.properties.map((q) => `${k} === ${tsString(q.name.wire)}`).join(' || ');
          const extra =
            node.additional === false
              ? [`${rt('fail')}(${o}, ${p}, "unexpected property " + JSON.stringify(${k}));`]
              : this.check(node.additional, `${v}[${k}]`, `${rt('join')}(${p}, ${k})`, o, false);
          if (extra.length) {
            c.push(
              `for (const ${k} of Object.keys(${v})) {`,
              ...indent([...(known ? [`if (${known}) continue;`] : []), ...extra]),
              '}',
            );
          }
        }
        return typed(`${rt('isObject')}(${v})`, c);
      }
      case 'union':
        return this.union(node.variants, v, p, o, nullable);
    }
  }

  private union(variants: readonly SchemaNode[], v: string, p: string, o: string, nullable: boolean): string[] {
    const flat = flatten(variants);
    if (flat.some((x) => x.kind === 'unknown')) return [];
    const others = flat.filter((x) => x.kind !== 'null');
    const hasNull = others.length < flat.length || nullable;
    if (others.length === 0) return this.check(flat[0]!, v, p, o, false);
    // `[T, null]`: check T unless null, so the issues of T stay specific.
    if (others.length === 1) {
      const inner = this.check(others[0]!, v, p, o, hasNull);
      return hasNull ? (inner.length ? [`if (${v} !== null) {`, ...indent(inner), '}'] : []) : inner;
    }
    // Otherwise one issue when no variant matches: each is tried against a scratch list.
    const m = this.fresh('m');
    const lines = [`let ${m} = ${hasNull ? `${v} === null` : 'false'};`];
    for (const variant of others) {
      const cheap = matchTest(variant, v);
      if (cheap !== undefined) {
        lines.push(`if (!${m} && ${cheap}) ${m} = true;`);
        continue;
      }
      const e = this.fresh('e');
      lines.push(
        `if (!${m}) {`,
        ...indent([
          `const ${e}: ${rt('Issue')}[] = [];`,
          ...this.check(variant, v, p, e, false),
          `${m} = ${e}.length === 0;`,
        ]),
        '}',
      );
    }
    const what = describeUnion(others, this.types) + (hasNull ? ' or null' : '');
    lines.push(`if (!${m}) ${rt('expected')}(${o}, ${p}, ${tsString(what)}, ${v});`);
    return lines;
  }

  private target(key: string): NamedType {
    const t = this.types.get(key);
    if (!t) throw new Error(`internal: unresolved ref ${JSON.stringify(key)}`);
    return t;
  }
}

/** A boolean expression that fully decides `node` for `v`, when there is one without statements. */
function matchTest(node: SchemaNode, v: string): string | undefined {
  switch (node.kind) {
    case 'null':
      return `${v} === null`;
    case 'boolean':
      return `typeof ${v} === "boolean"`;
    case 'string':
      return node.format === undefined &&
        node.pattern === undefined &&
        node.minLength === undefined &&
        node.maxLength === undefined
        ? `typeof ${v} === "string"`
        : undefined;
    case 'literal':
      if (typeof node.value === 'string') return `${v} === ${tsString(node.value)}`;
      if (typeof node.value === 'number') {
        const lit = num(node.value);
        return lit === undefined ? 'false' : `${v} === ${lit}`;
      }
      return `${v} === ${String(node.value)}`;
    case 'enum':
      return node.values.length ? node.values.map((x) => `${v} === ${tsString(x.wire)}`).join(' || ') : 'false';
    default:
      return undefined;
  }
}

function flatten(variants: readonly SchemaNode[]): SchemaNode[] {
  return variants.flatMap((x) => (x.kind === 'union' ? flatten(x.variants) : [x]));
}

/** What a value of `node` is, for "expected ..." messages. */
function describe(node: SchemaNode, types: ReadonlyMap<string, NamedType>, depth = 0): string {
  switch (node.kind) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'integer':
      return 'an integer';
    case 'boolean':
      return 'a boolean';
    case 'null':
      return 'null';
    case 'array':
      return 'an array';
    case 'object':
    case 'map':
      return 'an object';
    case 'unknown':
      return 'any value';
    case 'literal':
      return JSON.stringify(node.value) ?? String(node.value);
    case 'enum':
      return `one of ${node.values.map((x) => JSON.stringify(x.wire)).join(', ')}`;
    case 'ref': {
      // Structured targets read better by name ("expected Circle or Square, got object").
      const t = types.get(node.target);
      if (!t) return node.target;
      const structured = ['object', 'map', 'union', 'ref'].includes(t.schema.kind);
      return structured || depth >= 4 ? t.name.wire : describe(t.schema, types, depth + 1);
    }
    case 'union':
      return describeUnion(flatten(node.variants), types, depth + 1);
  }
}

function describeUnion(variants: readonly SchemaNode[], types: ReadonlyMap<string, NamedType>, depth = 0): string {
  const parts = [...new Set(variants.map((x) => describe(x, types, depth)))];
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} or ${parts.at(-1)}` : (parts[0] ?? 'nothing');
}
