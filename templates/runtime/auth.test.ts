import { describe, expect, it } from 'vitest';
import { authenticate, checkAuthSetup, createStreamLimiter, parseCookies, type AuthRequest } from './auth.ts';
import { StreamError } from './errors.ts';

describe('parseCookies', () => {
  it.each<[string, { given: string | null; want: Record<string, string> }]>([
    ['none', { given: null, want: {} }],
    ['two, spaced', { given: 'a=1; b=2', want: { a: '1', b: '2' } }],
    ['percent-encoded and quoted', { given: 'n=a%20b; q="x y"', want: { n: 'a b', q: 'x y' } }],
    ['a bad escape stays as sent', { given: 'n=%E0%A4%A', want: { n: '%E0%A4%A' } }],
    ['the first of a repeated name wins', { given: 'sid=1; sid=2', want: { sid: '1' } }],
    ['no name, no = : skipped', { given: '=x; flag; ok=1', want: { ok: '1' } }],
    ['= inside a value', { given: 't=a=b', want: { t: 'a=b' } }],
    // JSON.parse: an object literal would set the prototype instead of a key.
    ['__proto__ is a plain key', { given: '__proto__=x', want: JSON.parse('{"__proto__":"x"}') }],
  ])('%s', (_name, { given, want }) => {
    const got = parseCookies(given);
    expect(Object.entries(got)).toEqual(Object.entries(want));
    expect(Object.getPrototypeOf(got)).toBe(null);
  });
});

describe('checkAuthSetup', () => {
  it.each<[string, { modes: ('required' | 'optional' | 'none' | undefined)[]; hook: boolean; want: string | undefined }]>([
    ['required, no hook', { modes: ['required'], hook: false, want: 'stream "s0" requires authentication' }],
    ['two required, no hook', { modes: ['required', 'none', 'required'], hook: false, want: 'streams "s0", "s2" require authentication' }],
    ['required, a hook', { modes: ['required'], hook: true, want: undefined }],
    ['optional, none and unsaid, no hook', { modes: ['optional', 'none', undefined], hook: false, want: undefined }],
  ])('%s', (_name, { modes, hook, want }) => {
    const streams = modes.map((auth, i) => (auth ? { name: `s${i}`, auth } : { name: `s${i}` }));
    const run = () => checkAuthSetup(streams, hook ? { authenticate: () => undefined } : {});
    if (want) expect(run).toThrow(want);
    else expect(run).not.toThrow();
  });
});

describe('authenticate', () => {
  const request: AuthRequest = { stream: 's', headers: new Headers(), cookies: {}, query: new URLSearchParams(), remoteAddress: undefined, resumeFrom: undefined };
  const hook = (answer: () => unknown) => ({ authenticate: async () => answer() });

  it.each<[string, { mode: 'required' | 'optional' | 'none' | undefined; answer: () => unknown; want: unknown }]>([
    ['a principal with a string id', { mode: 'required', answer: () => ({ id: 'u1' }), want: { kind: 'ok', principal: { id: 'u1' }, id: 'u1' } }],
    ['a number id', { mode: undefined, answer: () => ({ id: 7 }), want: { kind: 'ok', principal: { id: 7 }, id: '7' } }],
    ['undefined, required', { mode: 'required', answer: () => undefined, want: { kind: 'denied', code: 'UNAUTHENTICATED', message: 'stream s requires authentication' } }],
    ['null, unsaid (so required)', { mode: undefined, answer: () => null, want: { kind: 'denied', code: 'UNAUTHENTICATED', message: 'stream s requires authentication' } }],
    ['undefined, optional', { mode: 'optional', answer: () => undefined, want: { kind: 'ok', principal: undefined, id: undefined } }],
    ['none: not asked', { mode: 'none', answer: () => { throw new Error('asked'); }, want: { kind: 'ok', principal: undefined, id: undefined } }],
    [
      'PERMISSION_DENIED thrown',
      { mode: 'optional', answer: () => { throw new StreamError('PERMISSION_DENIED', 'banned'); }, want: { kind: 'denied', code: 'PERMISSION_DENIED', message: 'banned' } },
    ],
    [
      'UNAUTHENTICATED thrown',
      { mode: 'required', answer: () => { throw new StreamError('UNAUTHENTICATED', 'expired'); }, want: { kind: 'denied', code: 'UNAUTHENTICATED', message: 'expired' } },
    ],
    [
      'a StreamError of another copy of the runtime (told by name)',
      {
        mode: 'required',
        answer: () => {
          throw Object.assign(new Error('other copy'), { name: 'StreamError', code: 'PERMISSION_DENIED' });
        },
        want: { kind: 'denied', code: 'PERMISSION_DENIED', message: 'other copy' },
      },
    ],
  ])('%s', async (_name, { mode, answer, want }) => {
    expect(await authenticate(mode, hook(answer), request)).toEqual(want);
  });

  it.each<[string, () => unknown, RegExp]>([
    ['another StreamError code is a server fault', () => { throw new StreamError('RATE_LIMITED', 'x'); }, /^x$/],
    ['a crash', () => { throw new Error('down'); }, /^down$/],
    ['a principal without an id', () => ({ name: 'n' }), /no string or number `id`/],
  ])('throws: %s', async (_name, answer, want) => {
    await expect(authenticate('required', hook(answer), request)).rejects.toThrow(want);
  });

  it('principalId decides the id', async () => {
    const got = await authenticate('required', { authenticate: () => ({ sub: 'x' }), principalId: (p) => `u:${p.sub}` }, request);
    expect(got).toEqual({ kind: 'ok', principal: { sub: 'x' }, id: 'u:x' });
  });

  it('a principalId that gives no id is a server fault, never an anonymous caller', async () => {
    for (const id of [undefined, '', 7])
      await expect(authenticate('required', { authenticate: () => ({ sub: 'x' }), principalId: () => id as unknown as string }, request)).rejects.toThrow(
        'principalId(p) must return a non-empty string',
      );
  });

  it('no hook: anonymous whatever the mode', async () => {
    expect(await authenticate('optional', {}, request)).toEqual({ kind: 'ok', principal: undefined, id: undefined });
  });
});

describe('createStreamLimiter', () => {
  it('counts instances per principal, a second connection to one instance once, and frees on release', () => {
    const l = createStreamLimiter(2);
    const a1 = l.acquire('a', 'i1')!;
    const a2 = l.acquire('a', 'i2')!;
    expect(l.acquire('a', 'i3')).toBeUndefined();
    expect(l.acquire('b', 'i4')).toBeDefined();
    // A takeover of i1 (a resume while the old connection is still closing) is not a third instance.
    const a1again = l.acquire('a', 'i1')!;
    expect(l.count('a')).toBe(2);
    a1();
    a1(); // releasing twice is harmless
    expect(l.acquire('a', 'i3')).toBeUndefined(); // i1 still has its second connection
    a1again();
    expect(l.count('a')).toBe(1);
    expect(l.acquire('a', 'i3')).toBeDefined();
    a2();
    expect(l.count('a')).toBe(1);
  });

  it('does not count anonymous callers', () => {
    const l = createStreamLimiter(1);
    for (let i = 0; i < 5; i++) expect(l.acquire(undefined, `i${i}`)).toBeDefined();
  });
});
