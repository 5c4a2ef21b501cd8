// Schema -> a deterministic example value, for `streamspec mock`. The same (schema, seed) always
// gives the same value, so a mock stream can be replayed and resumed exactly. Values come from
// the contract first (`examples`, then `default`), else are made to fit the schema's constraints;
// what cannot be made to fit (an unusual pattern, unbounded required recursion) is reported.

import { formats } from '../../templates/runtime/validation.ts';
import type { NamedType, SchemaNode, SourcePos } from '../ir/types.ts';

export interface ExampleProblem {
  readonly pos: SourcePos;
  readonly message: string;
}

export interface ExampleResult {
  readonly value: unknown;
  /** Where the value may not satisfy its schema; empty when it is made to fit. */
  readonly problems: readonly ExampleProblem[];
}

/** From this depth (objects, arrays, maps and refs each count one) optional properties are left out and arrays and maps are empty. */
const SOFT_DEPTH = 6;
/** Required recursion deeper than this has no finite value; it is cut and reported. */
const HARD_DEPTH = 64;

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

/** A schema-valid value for `node` (see `example` for what could not be made to fit). */
export function exampleValue(node: SchemaNode, types: ReadonlyMap<string, NamedType>, seed: number): unknown {
  return example(node, types, seed).value;
}

export function example(node: SchemaNode, types: ReadonlyMap<string, NamedType>, seed: number): ExampleResult {
  const problems: ExampleProblem[] = [];
  const value = new Maker(types, Math.max(0, Math.floor(seed)), problems).make(node, 0);
  return { value, problems };
}

class Maker {
  constructor(
    private readonly types: ReadonlyMap<string, NamedType>,
    private readonly seed: number,
    private readonly problems: ExampleProblem[],
  ) {}

  private report(pos: SourcePos, message: string): void {
    this.problems.push({ pos, message });
  }

  make(node: SchemaNode, depth: number): unknown {
    // The contract's own values win: cycled by seed so successive messages differ.
    if (node.examples && node.examples.length > 0) return structuredClone(node.examples[this.seed % node.examples.length]);
    if (Object.hasOwn(node, 'default')) return structuredClone(node.default);
    if (depth > HARD_DEPTH) {
      this.report(node.pos, 'the schema requires itself without end, so no finite example exists');
      return null;
    }
    const s = this.seed;
    switch (node.kind) {
      case 'string':
        return this.string(node);
      case 'integer':
        return integer(node, s, (m) => this.report(node.pos, m));
      case 'number':
        return number(node, s, (m) => this.report(node.pos, m));
      case 'boolean':
        return s % 2 === 0;
      case 'null':
        return null;
      case 'literal':
        return node.value;
      case 'enum':
        if (node.values.length === 0) {
          this.report(node.pos, 'an empty enum has no valid value');
          return null;
        }
        return node.values[s % node.values.length]!.wire;
      case 'unknown':
        return WORDS[s % WORDS.length];
      case 'ref': {
        const t = this.types.get(node.target);
        if (!t) throw new Error(`internal: unresolved ref ${JSON.stringify(node.target)}`);
        return this.make(t.schema, depth + 1);
      }
      case 'union': {
        const variants = node.variants;
        if (variants.length === 0) return null;
        // Deep down, a variant that ends the recursion beats variety.
        if (depth >= SOFT_DEPTH) {
          const leaf = variants.find((v) => v.kind !== 'object' && v.kind !== 'array' && v.kind !== 'map' && v.kind !== 'ref' && v.kind !== 'union');
          if (leaf) return this.make(leaf, depth);
        }
        return this.make(variants[s % variants.length]!, depth);
      }
      case 'array': {
        const min = node.minItems ?? 0;
        const max = node.maxItems ?? Infinity;
        const want = depth >= SOFT_DEPTH ? 0 : 1 + (s % 2);
        const n = Math.max(min, Math.min(max, want));
        return Array.from({ length: n }, (_, i) =>
          i === 0 ? this.make(node.items, depth + 1) : new Maker(this.types, s + i, this.problems).make(node.items, depth + 1),
        );
      }
      case 'map':
        return depth >= SOFT_DEPTH ? {} : { [WORDS[s % WORDS.length]!]: this.make(node.values, depth + 1) };
      case 'object': {
        const out: Record<string, unknown> = {};
        // Optional properties on even seeds only, so consumers see both shapes.
        const optional = depth < SOFT_DEPTH && s % 2 === 0;
        for (const p of node.properties) {
          if (!p.required && !optional) continue;
          Object.defineProperty(out, p.name.wire, {
            value: this.make(p.schema, depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
    }
  }

  private string(node: Extract<SchemaNode, { kind: 'string' }>): string {
    const s = this.seed;
    const base = (node.format !== undefined ? FORMATS[node.format]?.(s) : undefined) ?? `${WORDS[s % WORDS.length]}`;
    if (node.pattern !== undefined) {
      const fitted = fitPattern(node.pattern, s, node, base);
      if (fitted !== undefined) return fitted;
      this.report(
        node.pos,
        `no example matches the pattern ${JSON.stringify(node.pattern)}; add examples: [...] to the schema`,
      );
      return base;
    }
    if (node.format !== undefined && FORMATS[node.format] !== undefined) {
      if (!fitsLength(base, node.minLength, node.maxLength))
        this.report(node.pos, `the ${node.format} example does not fit minLength/maxLength; add examples: [...] to the schema`);
      return base;
    }
    return fitLength(base, node.minLength, node.maxLength);
  }
}

/** Example makers for the formats the generated validators check (and a few common others). */
const FORMATS: Readonly<Record<string, (seed: number) => string>> = {
  uuid: (s) => `00000000-0000-4000-8000-${s.toString(16).padStart(12, '0').slice(-12)}`,
  'date-time': (s) => new Date(Date.UTC(2024, 0, 1) + s * 60_000).toISOString(),
  date: (s) => new Date(Date.UTC(2024, 0, 1) + s * 86_400_000).toISOString().slice(0, 10),
  time: (s) => `${String(s % 24).padStart(2, '0')}:00:00Z`,
  email: (s) => `user${s}@example.com`,
  uri: (s) => `https://example.com/items/${s}`,
  url: (s) => `https://example.com/items/${s}`,
  hostname: (s) => `host${s}.example.com`,
  ipv4: (s) => `192.0.2.${s % 256}`,
  ipv6: (s) => `2001:db8::${(s % 0xffff).toString(16)}`,
  byte: (s) => Buffer.from(`example ${s}`).toString('base64'),
};

const codePoints = (s: string) => [...s].length;

function fitsLength(s: string, min: number | undefined, max: number | undefined): boolean {
  const n = codePoints(s);
  return (min === undefined || n >= min) && (max === undefined || n <= max);
}

function fitLength(s: string, min: number | undefined, max: number | undefined): string {
  let out = s;
  if (min !== undefined && codePoints(out) < min) out = out + 'x'.repeat(min - codePoints(out));
  if (max !== undefined && codePoints(out) > max) out = [...out].slice(0, max).join('');
  return out;
}

/** The first candidate the pattern, the length bounds and a checked format accept: one built from the pattern, then plain ones. */
function fitPattern(
  pattern: string,
  seed: number,
  node: Extract<SchemaNode, { kind: 'string' }>,
  base: string,
): string | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch {
    return undefined;
  }
  const format = node.format !== undefined && Object.hasOwn(formats, node.format) ? formats[node.format] : undefined;
  const candidates = [fromPattern(pattern, seed), base, WORDS[seed % WORDS.length]!, String(seed), 'example', 'a', 'A', '0', ''];
  return candidates.find(
    (c): c is string => c !== undefined && re.test(c) && fitsLength(c, node.minLength, node.maxLength) && (!format || format(c)),
  );
}

// ---------------------------------------------------------------------------------------------
// A string built from a regular expression, for the subset contracts use in practice: literals,
// escapes (\d \w \s \. ...), classes with ranges, `.`, groups, alternation, quantifiers. Anything
// else (lookaround, backreferences) gives up; the caller checks every result against the RegExp,
// so a wrong guess is never served. No maintained library builds strings deterministically.

type Pick = (options: number) => number;

export function fromPattern(pattern: string, seed: number): string | undefined {
  let counter = 0;
  // Varies choices by position and seed, so successive messages get different ids.
  const pick: Pick = (n) => (seed * 7 + counter++ * 3) % n;
  try {
    const p = new PatternReader(pattern, pick);
    const out = p.alternation();
    return p.done() ? out : undefined;
  } catch {
    return undefined;
  }
}

const DIGITS = '0123456789';
const WORD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_';

class PatternReader {
  private i = 0;
  constructor(
    private readonly src: string,
    private readonly pick: Pick,
  ) {}

  done(): boolean {
    return this.i === this.src.length;
  }

  alternation(): string {
    const branches = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return branches[this.pick(branches.length)]!;
  }

  private sequence(): string {
    let out = '';
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const c = this.src[this.i]!;
      if (c === '^' || c === '$') {
        this.i++;
        continue;
      }
      const atom = this.atom();
      const [min, max] = this.quantifier();
      // The fewest repetitions allowed, but at least one when allowed, so optional parts show.
      const n = Math.max(min, Math.min(max, 1));
      for (let k = 0; k < n; k++) out += atom();
    }
    return out;
  }

  /** Reads one atom; returns a function producing one instance of it. */
  private atom(): () => string {
    const c = this.src[this.i++]!;
    if (c === '(') {
      if (this.src[this.i] === '?') {
        // Non-capturing and named groups generate like plain ones; lookaround cannot be generated.
        const named = /^\?<([A-Za-z_$][\w$]*)>/.exec(this.src.slice(this.i));
        if (named) this.i += named[0].length;
        else if (this.src[this.i + 1] === ':') this.i += 2;
        else throw new Error('unsupported group');
      }
      const start = this.i;
      this.alternation();
      if (this.src[this.i] !== ')') throw new Error('unclosed group');
      this.i++;
      const body = this.src.slice(start, this.i - 1);
      return () => {
        const r = new PatternReader(body, this.pick);
        return r.alternation();
      };
    }
    if (c === '[') return this.charClass();
    if (c === '.') return this.choose(WORD);
    if (c === '\\') return this.escape();
    if ('*+?{'.includes(c)) throw new Error('nothing to repeat');
    return () => c;
  }

  private choose(chars: string): () => string {
    return () => chars[this.pick(chars.length)]!;
  }

  private escape(): () => string {
    const e = this.src[this.i++];
    if (e === undefined) throw new Error('trailing backslash');
    const set = classEscape(e);
    if (set !== undefined) return this.choose(set);
    if (/[0-9bBkpPux]/.test(e)) throw new Error('unsupported escape');
    const lit = e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
    return () => lit;
  }

  private charClass(): () => string {
    const negate = this.src[this.i] === '^';
    if (negate) this.i++;
    const members = new Set<string>();
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== ']' || first)) {
      first = false;
      let c = this.src[this.i++]!;
      if (c === '\\') {
        const e = this.src[this.i++]!;
        const set = classEscape(e);
        if (set !== undefined) {
          for (const x of set) members.add(x);
          continue;
        }
        if (/[0-9bBkpPux]/.test(e)) throw new Error('unsupported escape');
        c = e === 'n' ? '\n' : e === 't' ? '\t' : e;
      }
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== ']' && this.i + 1 < this.src.length) {
        this.i++;
        let hi = this.src[this.i++]!;
        if (hi === '\\') hi = this.src[this.i++]!;
        const a = c.codePointAt(0)!;
        const b = hi.codePointAt(0)!;
        if (b < a || b - a > 0xffff) throw new Error('bad range');
        for (let k = a; k <= b; k++) members.add(String.fromCodePoint(k));
      } else members.add(c);
    }
    if (this.src[this.i] !== ']') throw new Error('unclosed class');
    this.i++;
    const pool = negate ? [...WORD].filter((x) => !members.has(x)).join('') : [...members].join('');
    if (pool.length === 0) throw new Error('empty class');
    return () => [...pool][this.pick([...pool].length)]!;
  }

  private quantifier(): [number, number] {
    const c = this.src[this.i];
    let q: [number, number] = [1, 1];
    if (c === '*') q = [0, Infinity];
    else if (c === '+') q = [1, Infinity];
    else if (c === '?') q = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
      if (!m) return q;
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (this.src[this.i] === '?') this.i++;
      return [min, max];
    } else return q;
    this.i++;
    if (this.src[this.i] === '?') this.i++;
    return q;
  }
}

function classEscape(e: string): string | undefined {
  switch (e) {
    case 'd':
      return DIGITS;
    case 'w':
      return WORD;
    case 's':
      return ' ';
    case 'D':
      return 'abcxyz';
    case 'W':
      return '-.:';
    case 'S':
      return 'abcxyz';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers: the seed itself when it fits (so `index` fields count 0, 1, 2...), else a value
// inside the bounds.

const INT_RANGE = {
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
} as const;

function integer(node: Extract<SchemaNode, { kind: 'integer' }>, seed: number, report: (m: string) => void): number {
  const [fmin, fmax] = INT_RANGE[node.format];
  let lo: number = fmin;
  let hi: number = fmax;
  if (node.minimum !== undefined) lo = Math.max(lo, Math.ceil(node.minimum));
  if (node.exclusiveMinimum !== undefined) lo = Math.max(lo, Math.floor(node.exclusiveMinimum) + 1);
  if (node.maximum !== undefined) hi = Math.min(hi, Math.floor(node.maximum));
  if (node.exclusiveMaximum !== undefined) hi = Math.min(hi, Math.ceil(node.exclusiveMaximum) - 1);
  if (lo > hi) {
    report(`no integer lies between the bounds`);
    return lo;
  }
  if (seed >= lo && seed <= hi) return seed;
  const span = hi - lo + 1;
  return Number.isSafeInteger(span) ? lo + (seed % span) : lo + seed <= hi ? lo + seed : lo;
}

function number(node: Extract<SchemaNode, { kind: 'number' }>, seed: number, report: (m: string) => void): number {
  const lo = Math.max(node.minimum ?? -Infinity, node.exclusiveMinimum ?? -Infinity);
  const hi = Math.min(node.maximum ?? Infinity, node.exclusiveMaximum ?? Infinity);
  const loOpen = node.exclusiveMinimum !== undefined && node.exclusiveMinimum >= (node.minimum ?? -Infinity);
  const hiOpen = node.exclusiveMaximum !== undefined && node.exclusiveMaximum <= (node.maximum ?? Infinity);
  const inside = (v: number) => (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  // x.5 and quarters are exact in float32 too.
  const want = seed + 0.5;
  if (inside(want)) return want;
  if (Number.isFinite(lo) && Number.isFinite(hi)) {
    if (lo === hi && !loOpen && !hiOpen) return lo;
    const v = lo + ((hi - lo) * ((seed % 3) + 1)) / 4;
    if (inside(v)) return v;
    report('no number lies between the bounds');
    return lo;
  }
  if (Number.isFinite(lo)) return lo + seed + 0.5;
  return hi - seed - 0.5;
}
