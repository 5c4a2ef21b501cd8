import { describe, expect, it } from 'vitest';
import { createInstanceRegistry, lookupResume, openInstance } from './instance-registry.ts';

const retention = { messages: 10, seconds: 10 };

describe('createInstanceRegistry', () => {
  it('finds what it created, and nothing else', () => {
    const r = createInstanceRegistry({ maxInstances: 10 });
    const a = r.create('a', 'completion', retention);
    expect(r.get('a')).toBe(a);
    expect(a.stream).toBe('completion');
    expect(r.get('b')).toBeUndefined();
  });

  it('evicts the least recently active when full', () => {
    const r = createInstanceRegistry({ maxInstances: 2 });
    const a = r.create('a', 's', retention);
    r.create('b', 's', retention);
    r.touch(a); // b is now the least recently active
    r.create('c', 's', retention);
    expect(r.size).toBe(2);
    expect(r.get('a')).toBe(a);
    expect(r.get('b')).toBeUndefined();
    expect(r.get('c')).toBeDefined();
  });

  it('forgets an instance its retention after the last activity', () => {
    const clock = { t: 0 };
    const r = createInstanceRegistry({ maxInstances: 10, now: () => clock.t });
    const a = r.create('a', 's', retention);
    clock.t = 9_000;
    r.touch(a);
    clock.t = 18_999;
    expect(r.get('a')).toBe(a);
    clock.t = 19_000;
    expect(r.get('a')).toBeUndefined();
  });

  it('defaults the time to live to 300 s', () => {
    const clock = { t: 0 };
    const r = createInstanceRegistry({ maxInstances: 10, now: () => clock.t });
    r.create('a', 's', { messages: 5 });
    clock.t = 299_999;
    expect(r.get('a')).toBeDefined();
    clock.t = 300_000;
    expect(r.get('a')).toBeUndefined();
  });

  it('keeps a connected instance past its time to live, and sweeps expired ones on create', () => {
    const clock = { t: 0 };
    const r = createInstanceRegistry({ maxInstances: 10, now: () => clock.t });
    const live = r.create('live', 's', retention);
    live.live = new AbortController();
    r.create('idle', 's', retention);
    clock.t = 60_000;
    r.create('new', 's', retention);
    expect(r.size).toBe(2);
    expect(r.get('live')).toBe(live);
    live.live = undefined;
    expect(r.get('live')).toBeUndefined();
  });

  it('registers nothing with maxInstances 0', () => {
    const r = createInstanceRegistry({ maxInstances: 0 });
    r.create('a', 's', retention);
    expect(r.get('a')).toBeUndefined();
  });
});

describe('lookupResume with an owner', () => {
  const setup = () => {
    const r = createInstanceRegistry({ maxInstances: 10 });
    const alice = openInstance(r, 'completion', retention, 'alice');
    const anonymous = openInstance(r, 'completion', retention);
    alice.replay.append('frame 1');
    anonymous.replay.append('frame 1');
    return { r, alice, anonymous };
  };

  it.each<[string, { of: 'alice' | 'anonymous'; owner: string | undefined; ended?: boolean; want: string }]>([
    ['the owner resumes', { of: 'alice', owner: 'alice', want: 'resume' }],
    ['another principal is forbidden', { of: 'alice', owner: 'bob', want: 'forbidden' }],
    ['an anonymous caller is forbidden an owned instance', { of: 'alice', owner: undefined, want: 'forbidden' }],
    ['a principal is forbidden an anonymous instance', { of: 'anonymous', owner: 'alice', want: 'forbidden' }],
    ['anonymous resumes anonymous', { of: 'anonymous', owner: undefined, want: 'resume' }],
    ['forbidden before ended: nothing of the instance is told', { of: 'alice', owner: 'bob', ended: true, want: 'forbidden' }],
  ])('%s', (_name, { of, owner, ended, want }) => {
    const s = setup();
    const instance = s[of];
    instance.ended = ended === true;
    expect(lookupResume(s.r, `${instance.streamId}.1`, 'completion', owner).kind).toBe(want);
  });

  it('without an owner argument, owners are not compared (routers that bind none)', () => {
    const { r, alice } = setup();
    expect(lookupResume(r, `${alice.streamId}.1`, 'completion').kind).toBe('resume');
  });

  it('an unknown id is expired for anyone', () => {
    const { r } = setup();
    expect(lookupResume(r, `${'A'.repeat(22)}.1`, 'completion', 'alice').kind).toBe('expired');
  });
});
