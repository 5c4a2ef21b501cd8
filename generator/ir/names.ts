// The name solver: every name from the contract gets all its target spellings here, once.
// Emitters never convert case themselves.

import type { Names } from './types.ts';

/** Words of a name: split on `_`, `-`, `.`, spaces and lower->Upper / letter->digit boundaries. */
export function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0);
}

const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase();

/** A contract name usable in every target: ASCII letters, digits, `_`, `-`, `.`, starting with a letter. */
export function isPortableName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_.-]*$/.test(name) && words(name).length > 0;
}

// TS/JS reserved words, strict-mode words, and names that would shadow what generated code uses
// (as protobuf-es does in safe-identifier.ts).
const TS_RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with ' +
    'as implements interface let package private protected public static yield any boolean constructor declare get ' +
    'module require number set string symbol type from of async await never unknown object undefined arguments eval ' +
    'globalThis Array Object String Number Boolean Symbol BigInt Date Error Map Set Promise Record Partial Readonly ' +
    'Required Pick Omit Exclude Extract NonNullable ReturnType Uint8Array JSON Math Infinity NaN Function RegExp ' +
    'AbortSignal AbortController Response Request Headers ReadableStream WebSocket __proto__ prototype toString valueOf ' +
    'hasOwnProperty'
  ).split(' '),
);

export function isTsReserved(name: string): boolean {
  return TS_RESERVED.has(name);
}

/** Appends `$` to a reserved word, as protobuf-es does. */
export function safeTsIdent(name: string): string {
  return TS_RESERVED.has(name) ? `${name}$` : name;
}

/** All spellings of a portable contract name (see `isPortableName`). */
export function names(wire: string): Names {
  return spell(wire, words(wire));
}

/**
 * Spellings for a name that may be anything (a JSON property key, an enum value): TS code keeps
 * the wire string quoted, so only the proto spellings need to be made safe. Characters outside
 * [A-Za-z0-9] separate words; a leading digit gets a prefix.
 */
export function looseNames(wire: string): Names {
  const ws = words(wire.normalize('NFKD').replace(/[\u0300-\u036f]/g, ''));
  const base = ws.length ? ws : ['x'];
  return spell(wire, /^[0-9]/.test(base[0]!) ? ['n', ...base] : base);
}

function spell(wire: string, ws: readonly string[]): Names {
  const pascal = ws.map(cap).join('');
  const camel = pascal.charAt(0).toLowerCase() + pascal.slice(1);
  return {
    wire,
    camel: safeTsIdent(camel),
    type: safeTsIdent(pascal),
    pascal,
    snake: ws.map((w) => w.toLowerCase()).join('_'),
    constant: ws.map((w) => w.toUpperCase()).join('_'),
  };
}
