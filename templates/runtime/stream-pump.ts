// Moves a handler's messages to the transport under the stream's backpressure strategy.
//
// - pull / block: the next message is pulled only while the transport accepts writes; at most
//   `buffer` encoded frames wait between the handler and the socket.
// - drop-oldest / drop-newest: the handler runs free into a queue of `buffer`; overflow is counted.
// - sample: the handler runs free; the latest message is kept and at most one is sent per interval.
//
// Frames that are ready together go out in one write (one syscall instead of many), and a
// producer that never waits is paused on a macrotask regularly so it cannot starve the loop.

import { createBoundedQueue } from './bounded-queue.js';
import type { Message } from './frames.js';

export interface Backpressure {
  readonly kind: 'pull' | 'block' | 'drop-oldest' | 'drop-newest' | 'sample';
  readonly buffer: number;
  readonly intervalMs?: number;
}

export interface PumpSink {
  /** Writes one chunk; false when the transport's buffer is full (then wait for `drained()`). */
  write(chunk: string): boolean;
  /** Resolves once the transport takes writes again, or has closed. */
  drained(): Promise<void>;
}

export interface PumpOptions {
  readonly backpressure: Backpressure;
  /** The consumer went away: stop, and close the handler's iterator. */
  readonly signal: AbortSignal;
  /** Numbers, checks and encodes one message; `dropped` is how many were discarded since the previous one. A throw ends the pump. */
  readonly encode: (message: Message, dropped: number) => string;
  /** Errors from closing the handler's iterator, which nobody else would see. */
  readonly onError?: (error: unknown) => void;
}

export type PumpEnd =
  /** The handler returned (`value`: its terminal message); every message before it was written. */
  | { readonly kind: 'done'; readonly value: Message | void; readonly dropped: number }
  /** The handler threw, or `encode` did (then the iterator was closed). */
  | { readonly kind: 'error'; readonly error: unknown; readonly dropped: number }
  | { readonly kind: 'aborted' };

/** A free-running producer gets at most this many messages in before it is paused on a macrotask. */
const MAX_SYNC_MESSAGES = 64;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function pump(source: AsyncIterator<Message, Message | void>, sink: PumpSink, options: PumpOptions): Promise<PumpEnd> {
  const { backpressure, signal, encode } = options;
  const buffer = Math.max(1, Math.floor(backpressure.buffer));

  return new Promise<PumpEnd>((resolve) => {
    let finished = false;
    let blocked = false;
    let wakeUp: (() => void) | undefined;
    let immediate: ReturnType<typeof setImmediate> | undefined;
    let cooldown: ReturnType<typeof setTimeout> | undefined;

    const wake = () => {
      const w = wakeUp;
      wakeUp = undefined;
      w?.();
    };
    const writable = () => new Promise<void>((r) => (wakeUp = r));

    const closeSource = () => {
      // Not awaited: a handler stuck in an await that ignores the signal must not hold the pump.
      Promise.resolve()
        .then(() => source.return?.())
        .catch((e: unknown) => options.onError?.(e));
    };
    const finish = (end: PumpEnd, close: boolean) => {
      if (finished) return;
      finished = true;
      if (immediate !== undefined) clearImmediate(immediate);
      if (cooldown !== undefined) clearTimeout(cooldown);
      signal.removeEventListener('abort', onAbort);
      wake();
      if (close) closeSource();
      resolve(end);
    };
    const onAbort = () => finish({ kind: 'aborted' }, true);

    let onDrained = () => {};
    const write = (chunk: string) => {
      if (chunk === '' || sink.write(chunk) || blocked) return;
      blocked = true;
      sink.drained().then(() => {
        blocked = false;
        wake();
        if (!finished) onDrained();
      });
    };

    const runPull = async () => {
      let pending = '';
      let count = 0;
      const flush = () => {
        if (immediate !== undefined) clearImmediate(immediate);
        immediate = undefined;
        const chunk = pending;
        pending = '';
        count = 0;
        write(chunk);
      };
      for (;;) {
        if (blocked) {
          await writable();
          if (finished) return;
          continue;
        }
        if (count >= buffer) {
          flush();
          if (!blocked) await yieldToLoop();
          if (finished) return;
          continue;
        }
        let r: IteratorResult<Message, Message | void>;
        try {
          r = await source.next();
        } catch (error) {
          if (finished) return;
          flush();
          return finish({ kind: 'error', error, dropped: 0 }, false);
        }
        if (finished) return;
        if (r.done) {
          flush();
          return finish({ kind: 'done', value: r.value, dropped: 0 }, false);
        }
        try {
          pending += encode(r.value, 0);
        } catch (error) {
          flush();
          return finish({ kind: 'error', error, dropped: 0 }, true);
        }
        count++;
        // Frames produced in the same turn of the event loop share one write.
        immediate ??= setImmediate(flush);
      }
    };

    const runLossy = async () => {
      const sample = backpressure.kind === 'sample';
      const intervalMs = Math.max(0, backpressure.intervalMs ?? 0);
      const queue = createBoundedQueue<Message>(sample ? 1 : buffer, backpressure.kind === 'drop-newest' ? 'drop-newest' : 'drop-oldest');

      const flush = () => {
        if (finished || queue.size === 0) return;
        let chunk = '';
        try {
          // Drops happened before the first queued message goes out: it carries the count.
          chunk += encode(queue.shift()!, queue.takeDropped());
          while (queue.size > 0) chunk += encode(queue.shift()!, 0);
        } catch (error) {
          // Runs from a timer too, so it ends the pump itself rather than tell the producer loop.
          queue.clear();
          write(chunk);
          return finish({ kind: 'error', error, dropped: 0 }, true);
        }
        write(chunk);
      };
      const kick = () => {
        if (blocked || finished || queue.size === 0) return;
        if (sample) {
          if (cooldown !== undefined) return;
          flush();
          if (finished) return;
          cooldown = setTimeout(() => {
            cooldown = undefined;
            kick();
          }, intervalMs);
        } else {
          immediate ??= setImmediate(() => {
            immediate = undefined;
            if (!blocked) flush();
          });
        }
      };
      onDrained = kick;

      let sincePause = 0;
      let end: { done: true; value: Message | void } | { done: false; error: unknown };
      for (;;) {
        if (finished) return;
        let r: IteratorResult<Message, Message | void>;
        try {
          r = await source.next();
        } catch (error) {
          if (finished) return;
          end = { done: false, error };
          break;
        }
        if (finished) return;
        if (r.done) {
          end = { done: true, value: r.value };
          break;
        }
        queue.push(r.value);
        kick();
        if (queue.size >= queue.capacity || ++sincePause >= MAX_SYNC_MESSAGES) {
          sincePause = 0;
          await yieldToLoop();
          if (finished) return;
        }
      }
      if (finished) return;
      // The stream is ending: what is still queued goes out now, without waiting for the next sample.
      flush();
      if (finished) return;
      const dropped = queue.takeDropped();
      finish(end.done ? { kind: 'done', value: end.value, dropped } : { kind: 'error', error: end.error, dropped }, false);
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const run = backpressure.kind === 'pull' || backpressure.kind === 'block' ? runPull : runLossy;
    run().catch((error: unknown) => finish({ kind: 'error', error, dropped: 0 }, true));
  });
}
