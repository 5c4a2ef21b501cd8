// Helpers the generated `validate.ts` calls. Copied verbatim into the output and bundled into
// browser clients, so it stays tiny and dependency-free: every constraint beyond these is
// inlined by the generator (generator/schema/validators.ts).

export interface Issue {
  readonly path: string;
  readonly message: string;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** What a value is, for messages: `null`, `array`, or its `typeof`. */
export const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A key a path writes as `.key`; any other is quoted. The generator uses it too (`dot` or `join`). */
export const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `request.items[2].name`; keys that are not plain identifiers are quoted: `data["a b"]`. */
export const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : IDENTIFIER.test(key) ? dot(path, key) : `${path}[${JSON.stringify(key)}]`;

/** join for a key the generator knew to be an identifier: no test. */
export const dot = (path: string, key: string): string => (path ? `${path}.${key}` : key);

export const fail = (out: Issue[], path: string, message: string): void => {
  out.push({ path, message });
};

export const expected = (out: Issue[], path: string, what: string, v: unknown): void =>
  fail(out, path, `expected ${what}, got ${kind(v)}`);

/** JSON Schema lengths count code points, not UTF-16 units. */
export const length = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

// int64/uint64 travel as JSON numbers, so only the safe-integer part of their range is exact.
const RANGES: Record<string, readonly [number, number]> = {
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** An integer within the range of `format` (int32, uint32, int64, uint64). */
export const isInt = (v: number, format: string): boolean => {
  const r = RANGES[format]!;
  return Number.isSafeInteger(v) && v >= r[0] && v <= r[1];
};

const dateOk = (y: string, m: string, d: string): boolean => {
  const t = new Date(Date.UTC(+y, +m - 1, +d));
  return t.getUTCFullYear() === +y && t.getUTCMonth() === +m - 1 && t.getUTCDate() === +d;
};
const DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const DATE_TIME = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))$/;

/** The string formats the generator checks; any other format is documentation only. */
export const formats: Record<string, (s: string) => boolean> = {
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  date: (s) => {
    const m = DATE.exec(s);
    return !!m && dateOk(m[1]!, m[2]!, m[3]!);
  },
  // RFC 3339; second 60 allows a leap second.
  'date-time': (s) => {
    const m = DATE_TIME.exec(s);
    return (
      !!m && dateOk(m[1]!, m[2]!, m[3]!) && +m[4]! < 24 && +m[5]! < 60 && +m[6]! <= 60 && +(m[7] ?? 0) < 24 && +(m[8] ?? 0) < 60
    );
  },
  // Deliberately loose (one `@`, no spaces, no empty domain label): the full RFC 5322 grammar is not worth its bytes here.
  email: (s) => /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)*$/.test(s),
  // An absolute URI: a scheme, then no whitespace or control characters.
  uri: (s) => /^[A-Za-z][A-Za-z0-9+.-]*:[^\s\u0000-\u001f\u007f]*$/.test(s),
  // Standard base64, as proto3 JSON writes `bytes`.
  byte: (s) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
};

/** The error payload every error mode shares: `{ code, message, retryable? }`, `code` one of `codes`. */
export const checkError = (v: unknown, path: string, out: Issue[], codes: readonly string[]): void => {
  if (!isObject(v)) return expected(out, path, 'an object', v);
  if (!codes.includes(v.code as string)) fail(out, join(path, 'code'), `must be one of ${codes.map((c) => JSON.stringify(c)).join(', ')}`);
  if (typeof v.message !== 'string') expected(out, join(path, 'message'), 'a string', v.message);
  if (hasOwn(v, 'retryable') && typeof v.retryable !== 'boolean') expected(out, join(path, 'retryable'), 'a boolean', v.retryable);
  for (const k of Object.keys(v)) if (k !== 'code' && k !== 'message' && k !== 'retryable') fail(out, path, `unexpected property ${JSON.stringify(k)}`);
};
