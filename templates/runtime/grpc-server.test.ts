import { describe, expect, it } from 'vitest';
import { ContractViolation as SharedViolation, type Message } from './frames.ts';
import { ContractViolation } from './grpc-server.ts';
import { createInjector } from './injector.ts';

/** A handler's iterator whose next() the test resolves by hand. */
function manual() {
  const pulls: ((r: IteratorResult<Message, Message | void>) => void)[] = [];
  let returned = 0;
  const source: AsyncIterator<Message, Message | void> = {
    next: () => new Promise((r) => pulls.push(r)),
    return: async () => {
      returned++;
      return { done: true, value: undefined };
    },
  };
  return { source, pulls, returned: () => returned };
}

const problem = (n: number): Message => ({ type: 'problem', data: { code: 'INVALID_REQUEST', message: `bad ${n}` } });
const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
};

describe('createInjector', () => {
  it('answers a waiting error before the handler, and keeps an overtaken pull for the next call', async () => {
    const inject = createInjector(8);
    const h = manual();
    const it = inject.wrap(h.source);
    inject.push(problem(1));
    expect(await it.next()).toEqual({ done: false, value: problem(1) });
    // The handler is pulled once; an error pushed while that pull waits wins the race.
    const first = it.next();
    inject.push(problem(2));
    expect(await first).toEqual({ done: false, value: problem(2) });
    expect(h.pulls).toHaveLength(1);
    // The next call takes the same pending pull, not a second one.
    const second = it.next();
    h.pulls[0]!({ done: false, value: { type: 'fill', data: 1 } });
    expect(await second).toEqual({ done: false, value: { type: 'fill', data: 1 } });
    expect(h.pulls).toHaveLength(1);
    await it.return!();
    expect(h.returned()).toBe(1);
  });

  it('holds the reader back while `limit` errors wait, until the pump takes one', async () => {
    const inject = createInjector(2);
    const it = inject.wrap(manual().source);
    expect(await inject.room()).toBe(true);
    inject.push(problem(1));
    expect(await inject.room()).toBe(true);
    inject.push(problem(2));
    const room = inject.room();
    expect(await settled(room)).toBe(false);
    await it.next();
    expect(await room).toBe(true);
  });

  it('lets a held-back reader go, with false, once the call is over', async () => {
    const inject = createInjector(1);
    inject.push(problem(1));
    const room = inject.room();
    expect(await settled(room)).toBe(false);
    inject.close();
    expect(await room).toBe(false);
    expect(await inject.room()).toBe(false);
  });
});

it('reports contract violations as the one ContractViolation every router shares', () => {
  // An onError that tests `instanceof` against frames.ts (as the HTTP and WebSocket routers throw) sees gRPC's too.
  expect(ContractViolation).toBe(SharedViolation);
});
