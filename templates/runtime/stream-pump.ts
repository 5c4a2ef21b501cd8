// Moves a handler's messages to the transport under the stream's backpressure strategy.
//
// - pull / block / credit: the next message is pulled only while the transport accepts writes
//   (and, for credit, while the consumer has credit left: see `PumpSink.room`); at most `buffer`
//   encoded frames wait between the handler and the socket.
// - drop-oldest / drop-newest: the handler runs free into a queue of `buffer`; overflow is counted.
// - sample: the handler runs free; the latest message is kept and at most one is sent per interval.
//
// Frames that are ready together go out in one write (one syscall instead of many), and a
// producer that never waits is paused on a macrotask every millisecond, so it cannot starve the
// loop.
// A sink may also limit how many frames it takes (WebSocket credits): then nothing is pulled or
// sent beyond that, whatever the strategy.

import { createBoundedQueue } from './bounded-queue.js';
import type { Message } from './frames.js';

export interface Backpressure {
  readonly kind: 'pull' | 'block' | 'credit' | 'drop-oldest' | 'drop-newest' | 'sample';
  readonly buffer: number;
  readonly intervalMs?: number;
}

export interface PumpSink {
  /** Writes one chunk; false when the transport's buffer is full (then wait for `drained()`). */
  write(chunk: string): boolean;
  /** Resolves once the transport takes writes again (and `room()` is above 0), or has closed. */
  drained(): Promise<void>;
  /**
   * A message-framed transport (WebSocket) takes the frames of one batch apart, each its own
   * message; without this they are joined into one `write`.
   */
  writeFrames?(frames: readonly string[]): boolean;
  /** How many more frames the consumer accepts now (its credit); absent: no limit. */
  room?(): number;
}

export interface PumpOptions {
  readonly backpressure: Backpressure;
  /** The consumer went away: stop, and close the handler's iterator. */
  readonly signal: AbortSignal;
  /** Numbers, checks and encodes one message; `dropped` is how many were discarded since the previous one. A throw ends the pump. */
  readonly encode: (message: Message, dropped: number) => string;
  /** Errors from closing the handler's iterator, which nobody else would see. */
  readonly onError?: (error: unknown) => void;
  /** Counters for the conformance control endpoint (control.ts), updated in place when given. */
  readonly stats?: { pulled: number; queued: number; maxQueued: number };
}

export type PumpEnd =
  /** The handler returned (`value`: its terminal message); every message before it was written. */
  | { readonly kind: 'done'; readonly value: Message | void; readonly dropped: number }
  /** The handler threw, or `encode` did (then the iterator was closed). */
  | { readonly kind: 'error'; readonly error: unknown; readonly dropped: number }
  | { readonly kind: 'aborted' };

/** A free-running producer gets at most this many messages in before it is paused on a macrotask. */
const MAX_SYNC_MESSAGES = 64;

/**
 * A pulled producer whose writes the socket keeps taking runs this long before it is paused on a
 * macrotask (checked after each write of up to `buffer` frames). Pausing after every write
 * instead costs a turn of the loop per `buffer` frames, and with both ends in one process it cuts
 * the stream into `buffer`-sized reads: in bench/http.bench.ts the generated server and client
 * then ran at 84-90 % of a raw node:http loop that writes until `write()` says false, and with
 * 1 ms slices above 100 %.
 */
const SLICE_MS = 1;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function pump(source: AsyncIterator<Message, Message | void>, sink: PumpSink, options: PumpOptions): Promise<PumpEnd> {
  const { backpressure, signal, encode } = options;
  const buffer = Math.max(1, Math.floor(backpressure.buffer));
  const stats = options.stats;
  const held = (n: number) => {
    if (!stats) return;
    stats.queued = n;
    if (n > stats.maxQueued) stats.maxQueued = n;
  };

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
    const room = () => (sink.room ? sink.room() : Infinity);
    const write = (frames: readonly string[]) => {
      const ok = frames.length === 0 || (sink.writeFrames ? sink.writeFrames(frames) : sink.write(frames.join('')));
      if ((ok && room() > 0) || blocked) return;
      blocked = true;
      sink.drained().then(() => {
        blocked = false;
        wake();
        if (!finished) onDrained();
      });
    };

    const runPull = async () => {
      let sliceStart = performance.now();
      let pending: string[] = [];
      const flush = () => {
        if (immediate !== undefined) clearImmediate(immediate);
        immediate = undefined;
        const frames = pending;
        pending = [];
        held(0);
        write(frames);
      };
      for (;;) {
        if (blocked) {
          await writable();
          if (finished) return;
          continue;
        }
        // Out of credit counts as full: the next frame could not be sent, so it is not pulled.
        if (pending.length >= Math.min(buffer, room())) {
          flush();
          if (!blocked && performance.now() - sliceStart >= SLICE_MS) {
            await yieldToLoop();
            sliceStart = performance.now();
          }
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
        if (stats) stats.pulled++;
        try {
          pending.push(encode(r.value, 0));
          held(pending.length);
        } catch (error) {
          flush();
          return finish({ kind: 'error', error, dropped: 0 }, true);
        }
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
        const frames: string[] = [];
        const n = Math.min(queue.size, room());
        try {
          // Drops happened before the first queued message goes out: it carries the count.
          if (n > 0) frames.push(encode(queue.shift()!, queue.takeDropped()));
          while (frames.length < n) frames.push(encode(queue.shift()!, 0));
          held(queue.size);
        } catch (error) {
          // Runs from a timer too, so it ends the pump itself rather than tell the producer loop.
          queue.clear();
          write(frames);
          return finish({ kind: 'error', error, dropped: 0 }, true);
        }
        write(frames);
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
        if (stats) stats.pulled++;
        held(queue.size);
        kick();
        if (queue.size >= queue.capacity || ++sincePause >= MAX_SYNC_MESSAGES) {
          sincePause = 0;
          await yieldToLoop();
          if (finished) return;
        }
      }
      if (finished) return;
      // The stream is ending: what is still queued goes out now, without waiting for the next
      // sample; only a consumer out of credit makes it wait.
      for (;;) {
        flush();
        if (finished) return;
        if (queue.size === 0) break;
        if (blocked) await writable();
        else await yieldToLoop();
        if (finished) return;
      }
      const dropped = queue.takeDropped();
      finish(end.done ? { kind: 'done', value: end.value, dropped } : { kind: 'error', error: end.error, dropped }, false);
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const lossy = backpressure.kind === 'drop-oldest' || backpressure.kind === 'drop-newest' || backpressure.kind === 'sample';
    const run = lossy ? runLossy : runPull;
    run().catch((error: unknown) => finish({ kind: 'error', error, dropped: 0 }, true));
  });
}

/**
 * Calls `beat` once the transport has been quiet for a whole `intervalMs` (a fixed ticker would
 * allow almost two intervals of silence); `touch()` on every write.
 */
export function quietTimer(intervalMs: number, beat: () => void): { touch(): void; stop(): void } {
  const interval = Math.max(1, intervalMs);
  let last = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(check, ms);
    timer.unref?.();
  };
  const check = () => {
    const quiet = performance.now() - last;
    if (quiet < interval - 1) return arm(interval - quiet);
    beat();
    last = performance.now();
    arm(interval);
  };
  arm(interval);
  return {
    touch: () => void (last = performance.now()),
    stop: () => clearTimeout(timer),
  };
}
