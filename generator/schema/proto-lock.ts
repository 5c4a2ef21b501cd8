// proto.lock.json: the field and enum-value numbers already handed out, so that regenerating
// after an edit never renumbers a field. Written beside the output by the caller and read back
// on the next run. Numbers are only ever added; a name that disappears is reserved (number and
// name), as buf's breaking rules and protobuf's own guidance ask.

export interface LockEntry {
  /** Live field (or enum value) name -> number. */
  readonly numbers: Readonly<Record<string, number>>;
  /** Numbers of removed names: never handed out again. */
  readonly reservedNumbers: readonly number[];
  /** Removed names: reserved until a property of that name comes back. */
  readonly reservedNames: readonly string[];
}

export interface ProtoLock {
  readonly version: 1;
  /** Keyed by message name relative to the package (`Order`, `Order.Item`). */
  readonly messages: Readonly<Record<string, LockEntry>>;
  /** Keyed by enum name relative to the package (`Color`, `Order.Status`). */
  readonly enums: Readonly<Record<string, LockEntry>>;
}

export const EMPTY_PROTO_LOCK: ProtoLock = { version: 1, messages: {}, enums: {} };

export class ProtoLockError extends Error {
  override name = 'ProtoLockError';
}

// protobuf keeps 19000-19999 for itself; the largest field number is 2^29 - 1.
const FIRST_IMPL_RESERVED = 19000;
const LAST_IMPL_RESERVED = 19999;
const MAX_NUMBER = 536870911;

/**
 * Numbers for `names` (in declaration order) given what `entry` already handed out: a known name
 * keeps its number; a new one gets the next number above every used or reserved one; a name no
 * longer present is reserved. A name that returns after removal gets a fresh number (its old
 * one may have carried another type) and stops being a reserved name.
 */
export function assignNumbers(
  entry: LockEntry | undefined,
  names: readonly string[],
): { numbers: ReadonlyMap<string, number>; entry: LockEntry } {
  const old = new Map(Object.entries(entry?.numbers ?? {}));
  const reservedNumbers = new Set(entry?.reservedNumbers ?? []);
  const reservedNames = new Set(entry?.reservedNames ?? []);
  let top = Math.max(0, ...old.values(), ...reservedNumbers);
  const numbers = new Map<string, number>();
  for (const name of names) {
    const known = old.get(name);
    if (known !== undefined) {
      numbers.set(name, known);
      continue;
    }
    top += 1;
    if (top >= FIRST_IMPL_RESERVED && top <= LAST_IMPL_RESERVED) top = LAST_IMPL_RESERVED + 1;
    if (top > MAX_NUMBER) throw new ProtoLockError(`no field numbers left for ${JSON.stringify(name)}`);
    numbers.set(name, top);
    reservedNames.delete(name);
  }
  for (const [name, n] of old) {
    if (numbers.has(name)) continue;
    reservedNumbers.add(n);
    reservedNames.add(name);
  }
  return {
    numbers,
    entry: {
      numbers: Object.fromEntries([...numbers].sort((a, b) => a[1] - b[1])),
      reservedNumbers: [...reservedNumbers].sort((a, b) => a - b),
      reservedNames: [...reservedNames].sort(compare),
    },
  };
}

/** Deterministic JSON: keys in a fixed order, entries sorted by name, numbers ascending. */
export function printProtoLock(lock: ProtoLock): string {
  const section = (entries: Readonly<Record<string, LockEntry>>) =>
    Object.fromEntries(
      Object.keys(entries)
        .sort(compare)
        .map((key) => {
          const e = entries[key]!;
          return [
            key,
            {
              numbers: Object.fromEntries(Object.entries(e.numbers).sort((a, b) => a[1] - b[1] || compare(a[0], b[0]))),
              reservedNumbers: [...e.reservedNumbers].sort((a, b) => a - b),
              reservedNames: [...e.reservedNames].sort(compare),
            },
          ];
        }),
    );
  return JSON.stringify({ version: 1, messages: section(lock.messages), enums: section(lock.enums) }, null, 2) + '\n';
}

/** Reads a lock written by `printProtoLock`; anything else is a ProtoLockError saying where. */
export function parseProtoLock(text: string): ProtoLock {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ProtoLockError(
      `proto.lock.json is not valid JSON (${(e as Error).message}). Restore it from version control, or delete it to number fields afresh.`,
    );
  }
  const bad = (where: string, what: string): never => {
    throw new ProtoLockError(`proto.lock.json is corrupt: ${where} ${what}. Restore it from version control.`);
  };
  if (!isRecord(data)) return bad('the top level', 'must be an object');
  if (data['version'] !== 1) bad('"version"', `must be 1, got ${JSON.stringify(data['version'])}`);
  for (const key of Object.keys(data))
    if (!['version', 'messages', 'enums'].includes(key)) bad(`key ${JSON.stringify(key)}`, 'is not known');
  const section = (name: 'messages' | 'enums'): Record<string, LockEntry> => {
    const raw = data[name];
    if (!isRecord(raw)) return bad(`"${name}"`, 'must be an object');
    const out: [string, LockEntry][] = [];
    for (const [key, value] of Object.entries(raw)) {
      const at = `${name}[${JSON.stringify(key)}]`;
      if (!isRecord(value)) return bad(at, 'must be an object');
      const { numbers, reservedNumbers, reservedNames } = value;
      if (!isRecord(numbers)) return bad(`${at}.numbers`, 'must be an object');
      if (!Array.isArray(reservedNumbers)) return bad(`${at}.reservedNumbers`, 'must be an array');
      if (!Array.isArray(reservedNames) || !reservedNames.every((n) => typeof n === 'string'))
        return bad(`${at}.reservedNames`, 'must be an array of strings');
      const seen = new Set<number>();
      for (const [field, n] of [
        ...Object.entries(numbers),
        ...reservedNumbers.map((n): [string, unknown] => ['(reserved)', n]),
      ]) {
        if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_NUMBER)
          bad(`${at} ${JSON.stringify(field)}`, `has ${JSON.stringify(n)}, not a field number`);
        if (seen.has(n as number)) bad(at, `uses number ${n as number} twice`);
        seen.add(n as number);
      }
      out.push([
        key,
        {
          numbers: numbers as Record<string, number>,
          reservedNumbers: reservedNumbers as number[],
          reservedNames: reservedNames as string[],
        },
      ]);
    }
    return Object.fromEntries(out);
  };
  return { version: 1, messages: section('messages'), enums: section('enums') };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
