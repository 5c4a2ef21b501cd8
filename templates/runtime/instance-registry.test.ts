import { describe, expect, it } from 'vitest';
import { createInstanceRegistry } from './instance-registry.ts';

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
