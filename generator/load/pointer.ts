// Pointers into loaded documents: reading the value at one, and turning a JSON Pointer string (as
// ajv reports an error's place) into one, with array indexes as numbers.

import type { Pointer } from './types.ts';

/** The value at `pointer` in `value`, or undefined where the path does not exist. */
export function valueAt(value: unknown, pointer: Pointer): unknown {
  let here = value;
  for (const seg of pointer) here = here !== null && typeof here === 'object' ? (here as Record<string | number, unknown>)[seg] : undefined;
  return here;
}

/** `/streams/s/errors/codes/1` read against `value`: `['streams', 's', 'errors', 'codes', 1]`. */
export function fromJsonPointer(value: unknown, jsonPointer: string): Pointer {
  if (!jsonPointer) return [];
  const out: (string | number)[] = [];
  let here = value;
  for (const raw of jsonPointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const key = Array.isArray(here) ? Number(seg) : seg;
    out.push(key);
    here = valueAt(here, [key]);
  }
  return out;
}
