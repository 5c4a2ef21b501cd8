// In-band errors about client messages join the handler's own messages (WebSocket and gRPC): the
// pump pulls from `wrap`, which answers with a waiting error first, else with the handler's next
// message. A pull of the handler that an error overtook stays pending for the next call, so
// nothing is pulled twice.

import type { Message } from './frames.js';

export type Injector = ReturnType<typeof createInjector>;

/**
 * At most `limit` errors wait: `room()` holds the reader of client messages back until the pump
 * takes one, and resolves false once the call is over. `taken` (per message) runs when the pump
 * takes it, for a transport that frees the client's grant only then.
 */
export function createInjector(limit = Infinity) {
  const waiting: { readonly message: Message; readonly taken: (() => void) | undefined }[] = [];
  let notify: (() => void) | undefined;
  let freed: (() => void) | undefined;
  let over = false;
  const take = (): IteratorResult<Message, Message | void> => {
    const w = waiting.shift()!;
    w.taken?.();
    const f = freed;
    freed = undefined;
    f?.();
    return { done: false, value: w.message };
  };
  return {
    push(message: Message, taken?: () => void) {
      waiting.push({ message, taken });
      notify?.();
    },
    async room(): Promise<boolean> {
      while (!over && waiting.length >= Math.max(1, limit)) await new Promise<void>((r) => (freed = r));
      return !over;
    },
    close() {
      over = true;
      const f = freed;
      freed = undefined;
      f?.();
    },
    wrap(source: AsyncIterator<Message, Message | void>): AsyncIterator<Message, Message | void> {
      let pending: Promise<IteratorResult<Message, Message | void>> | undefined;
      return {
        async next() {
          if (waiting.length > 0) return take();
          if (!pending) {
            pending = source.next();
            // Seen by the next call if an injected error wins this race.
            pending.catch(() => {});
          }
          const injected = new Promise<'injected'>((r) => (notify = () => r('injected')));
          const r = await Promise.race([pending, injected]);
          notify = undefined;
          if (r === 'injected') return take();
          pending = undefined;
          return r;
        },
        // Queued behind a pending pull, as a generator's own return() is.
        return: async () => (source.return ? source.return() : { done: true, value: undefined }),
      };
    },
  };
}
