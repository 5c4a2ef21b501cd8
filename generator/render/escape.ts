// The one home of escaping: every string from the contract that reaches generated code passes
// through the helper named for where it lands. Each is total: no input can break out of its
// context (a string literal, a comment, an identifier position).

import { safeTsIdent } from '../ir/names.ts';

// Line terminators JS treats as newlines inside comments and (before ES2019) string literals.
const LINE_BREAKS = /\r\n|[\r\n\u2028\u2029]/g;

/** A TS/JS string literal, double-quoted, with everything outside printable ASCII escaped. */
export function tsString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || (c >= 0x7f && c <= 0xffff)) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (c > 0xffff) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/**
 * An identifier for a contract name already made portable by the name solver. Anything else is a
 * bug upstream, so it throws rather than emit broken code.
 */
export function tsIdent(name: string): string {
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) throw new Error(`internal: not an identifier: ${JSON.stringify(name)}`);
  return safeTsIdent(name);
}

/** A property key in a type or object literal: bare when it is a plain identifier, else quoted. */
export function tsPropKey(key: string): string {
  // `__proto__` as a bare or quoted key in an object literal sets the prototype; computed keys do not.
  if (key === '__proto__') return `["__proto__"]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : tsString(key);
}

/** A piece of TS the generator wrote itself (`v.validateRoomParams`), placed by `tsValue` as it is. */
export class Code {
  constructor(readonly text: string) {}
}
export const code = (text: string): Code => new Code(text);

/**
 * A JSON value (example data, descriptors) as a TS expression: strings through `tsString`, keys
 * through `tsPropKey`, so no value can break out of the literal; `Code` pieces go in as written.
 */
export function tsValue(value: unknown): string {
  if (value instanceof Code) return value.text;
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? (Object.is(value, -0) ? '-0' : String(value)) : 'null';
  if (typeof value === 'string') return tsString(value);
  if (Array.isArray(value)) return `[${value.map(tsValue).join(', ')}]`;
  if (typeof value === 'object')
    return `{ ${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${tsPropKey(k)}: ${tsValue(v)}`)
      .join(', ')} }`;
  throw new Error(`internal: not a JSON value: ${typeof value}`);
}

/** Text inside a `/** ... *\/` block: `*\/` cannot close it, line breaks continue it with ` * `. */
export function jsDoc(text: string): string {
  return text
    .trim()
    .replace(/\*\//g, '*\\/')
    .replace(LINE_BREAKS, '\n * ');
}

/** Text inside `//` comments: every line break starts a new `//` line. */
export function lineComment(text: string): string {
  return text.trim().replace(LINE_BREAKS, '\n// ');
}

/** A proto identifier (message, field, enum value): must already be portable. */
export function protoIdent(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`internal: not a proto identifier: ${JSON.stringify(name)}`);
  return name;
}

/** Text for proto `//` comments: line breaks continue the comment. */
export function protoComment(text: string): string {
  return text.trim().replace(LINE_BREAKS, '\n// ');
}

/** A proto string literal (`json_name`, options): proto string escapes, ASCII only. */
export function protoString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += ch;
    else out += `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out + '"';
}

/**
 * Contract text as inert markdown prose: every markdown metacharacter is backslash-escaped and
 * `<`/`&` become entities, so a description can add neither HTML nor links nor code spans.
 */
export function markdownText(text: string): string {
  return text
    .replace(/\r\n|[\r\u2028\u2029]/g, '\n')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\`*_{}[\]#+!|~]/g, '\\$&')
    .replace(/\n[ \t]*\n/g, '\u0000')
    .replace(/\n/g, ' ')
    .replace(/\u0000/g, '\n\n');
}
