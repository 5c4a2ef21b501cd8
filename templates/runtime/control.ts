// The conformance control endpoint, off by default (`createRouter(handlers, { conformanceControl:
// true })`, `streamspec mock --conformance-control`): what the server knows about a stream
// instance that a client cannot see — how far its handler was pulled, how much it held back for a
// slow consumer, whether the handler has stopped. The generated conformance suites ask it; a
// server without it simply skips those checks. It reveals nothing but counts, by unguessable id.

import type { Message } from './frames.js';

export const CONTROL_PATH = '/.well-known/streamspec/conformance';

/** The counters of one stream instance; the pump and the router update them in place. */
export interface InstanceStats {
  readonly stream: string;
  /** `running` while the handler may still produce; `done` once it returned, threw or was closed. */
  handler: 'running' | 'done';
  /** Values taken from the handler. */
  pulled: number;
  /** Messages taken from the handler that the transport has not taken yet, now and at most. */
  queued: number;
  maxQueued: number;
}

export interface Control {
  /** The stats of an instance, created on first use; the oldest are forgotten past `limit`. */
  stats(streamId: string, stream: string): InstanceStats;
  /** `source`, marking the stats `done` once the handler has returned, thrown or been closed. */
  track<T>(source: AsyncIterator<T, Message | void>, stats: InstanceStats): AsyncIterator<T, Message | void>;
  /** The answer for a request path under CONTROL_PATH; undefined for any other path. */
  answer(path: string): { readonly status: number; readonly body: unknown } | undefined;
}

export function createControl(limit = 1000): Control {
  const all = new Map<string, InstanceStats>();
  const prefix = `${CONTROL_PATH}/instances/`;
  return {
    stats(streamId, stream) {
      let s = all.get(streamId);
      if (!s) {
        if (all.size >= limit) all.delete(all.keys().next().value!);
        s = { stream, handler: 'running', pulled: 0, queued: 0, maxQueued: 0 };
        all.set(streamId, s);
      }
      s.handler = 'running';
      return s;
    },
    track(source, stats) {
      const settle = <R>(p: Promise<IteratorResult<unknown, R>>, always: boolean) =>
        p.then(
          (r) => {
            if (always || r.done) stats.handler = 'done';
            return r;
          },
          (e: unknown) => {
            stats.handler = 'done';
            throw e;
          },
        );
      return {
        next: () => settle(source.next(), false) as Promise<IteratorResult<never, Message | void>>,
        return: (v?: Message | void) => settle(source.return ? source.return(v) : Promise.resolve({ done: true as const, value: v }), true) as Promise<IteratorResult<never, Message | void>>,
      };
    },
    answer(path) {
      if (!path.startsWith(CONTROL_PATH)) return undefined;
      const s = path.startsWith(prefix) ? all.get(decodeURIComponent(path.slice(prefix.length))) : undefined;
      return s ? { status: 200, body: s } : { status: 404, body: { code: 'NOT_FOUND', message: 'no such stream instance' } };
    },
  };
}

/**
 * The `stats` a pump is given for an instance: `pulled` is the instance's; `queued` is the pump's
 * own count, which the transport adds to what it holds itself (`onQueued` tells it of a change).
 */
export function pumpStats(stats: InstanceStats, onQueued: () => void): { pulled: number; queued: number; maxQueued: number } {
  let own = 0;
  return {
    get pulled() {
      return stats.pulled;
    },
    set pulled(n: number) {
      stats.pulled = n;
    },
    get queued() {
      return own;
    },
    set queued(n: number) {
      own = n;
      onQueued();
    },
    // The pump's own maximum is not the instance's: held() keeps that.
    maxQueued: 0,
  };
}

/** Sets what an instance holds now, and its maximum. */
export function held(stats: InstanceStats, n: number): void {
  stats.queued = n;
  if (n > stats.maxQueued) stats.maxQueued = n;
}

/** The pump's counters, and the transport's own count of what it was handed while full. */
export interface HeldCounter {
  /** What the pump is given as its `stats`: `queued` there is only the pump's own count. */
  readonly pump: { pulled: number; queued: number; maxQueued: number };
  /** After each write to the transport: `frames` written, `accepted` false when it said "full". */
  wrote(frames: number, accepted: boolean): void;
}

/**
 * Counts held messages from two sides that do not trust each other: the pump reports what it
 * holds, and the sink counts frames written while the transport was full (a write returned false,
 * no drain since). `stats.queued`/`maxQueued` are the sum, so a pump that ignored a full
 * transport shows there instead of keeping its own count honest. `drained` resolves on the
 * transport's next drain (or close).
 */
export function createHeldCounter(stats: InstanceStats, drained: () => Promise<void>): HeldCounter {
  let over = 0;
  let blocked = false;
  const publish = () => held(stats, pump.queued + over);
  const pump = pumpStats(stats, publish);
  return {
    pump,
    wrote(frames, accepted) {
      if (blocked) {
        over += frames;
        publish();
      }
      if (accepted || blocked) return;
      blocked = true;
      void drained().then(() => {
        blocked = false;
        over = 0;
        publish();
      });
    },
  };
}
