// The stream instances a client may still resume, by streamId. Bounded in count (the least
// recently active instance goes first) and in time (an instance is forgotten `ttlMs` after its
// last frame), so a server that runs for months holds a fixed amount of resume state.

import { newStreamId, parseFrameId } from './frames.js';
import { createReplayBuffer, type ReplayBuffer, type Retention } from './replay-buffer.js';

export interface StreamInstance {
  readonly streamId: string;
  /** The wire name of the stream the instance belongs to: an id is never resumed on another stream. */
  readonly stream: string;
  /** Encoded frames, numbered by the buffer. */
  readonly replay: ReplayBuffer;
  /** True once the terminal message or a `$error` frame was produced. */
  ended: boolean;
  /** Aborts the connection currently producing frames for this instance, if any. */
  live: AbortController | undefined;
  /** The id of the principal that opened the instance (undefined: anonymous); only it may resume. */
  readonly owner?: string | undefined;
}

export interface InstanceRegistry {
  readonly size: number;
  /** A registered instance with an empty replay buffer; may evict the least recently active one. */
  create(streamId: string, stream: string, retention: Retention, owner?: string): StreamInstance;
  /** The instance, unless unknown or expired. */
  get(streamId: string): StreamInstance | undefined;
  /** Records activity (a frame, a connection ending): restarts the instance's time to live. */
  touch(instance: StreamInstance): void;
  clear(): void;
}

export interface RegistryOptions {
  readonly maxInstances: number;
  readonly now?: () => number;
}

/** How long an instance is kept after its last frame when the contract gives no `retention.seconds`. */
export const DEFAULT_RETENTION_SECONDS = 300;

interface Entry {
  readonly instance: StreamInstance;
  readonly ttlMs: number;
  touchedAt: number;
}

export function createInstanceRegistry(options: RegistryOptions): InstanceRegistry {
  const now = options.now ?? Date.now;
  // Map iteration order is insertion order; touch() re-inserts, so the front is the least recently active.
  const entries = new Map<string, Entry>();
  const expired = (e: Entry, t: number) => t - e.touchedAt >= e.ttlMs;

  const sweep = () => {
    const t = now();
    for (const [id, e] of entries) {
      if (!expired(e, t)) break;
      // A connected instance is active even when quiet; it expires once its connection ends.
      if (e.instance.live === undefined) entries.delete(id);
    }
  };

  return {
    get size() {
      return entries.size;
    },
    create(streamId, stream, retention, owner) {
      sweep();
      while (entries.size >= options.maxInstances && entries.size > 0) entries.delete(entries.keys().next().value!);
      const instance: StreamInstance = {
        streamId,
        stream,
        replay: createReplayBuffer(retention, now),
        ended: false,
        live: undefined,
        owner,
      };
      const ttlMs = (retention.seconds ?? DEFAULT_RETENTION_SECONDS) * 1000;
      if (options.maxInstances > 0) entries.set(streamId, { instance, ttlMs, touchedAt: now() });
      return instance;
    },
    get(streamId) {
      const e = entries.get(streamId);
      if (!e) return undefined;
      if (expired(e, now()) && e.instance.live === undefined) {
        entries.delete(streamId);
        return undefined;
      }
      return e.instance;
    },
    touch(instance) {
      const e = entries.get(instance.streamId);
      if (!e || e.instance !== instance) return;
      e.touchedAt = now();
      entries.delete(instance.streamId);
      entries.set(instance.streamId, e);
    },
    clear() {
      entries.clear();
    },
  };
}

/** What a resume id names, as every transport answers it (HTTP 410/204, WebSocket close 4410/1000). */
export type ResumeLookup =
  /** Unknown, malformed, of another stream, or a position no longer retained: RESUME_EXPIRED. */
  | { readonly kind: 'expired'; readonly message: string }
  /** The instance ended and `id` is its last frame: nothing more will come. */
  | { readonly kind: 'ended'; readonly instance: StreamInstance }
  /** `missed`: the retained frames after `id`, to send again before the handler continues. */
  | { readonly kind: 'resume'; readonly instance: StreamInstance; readonly missed: readonly string[] };

/** The instance exists but another principal opened it: refused (HTTP 403), nothing of it is sent. */
export type ResumeForbidden = { readonly kind: 'forbidden'; readonly message: string };

/**
 * What `id` names for a resume of `stream`. With `owner` (the resuming principal's id, undefined
 * for an anonymous caller) an instance opened by anyone else is `forbidden`, whatever its state.
 * Without it, owners are not compared: for routers that never bind instances to a principal.
 */
export function lookupResume(registry: InstanceRegistry, id: string, stream: string): ResumeLookup;
export function lookupResume(registry: InstanceRegistry, id: string, stream: string, owner: string | undefined): ResumeLookup | ResumeForbidden;
export function lookupResume(registry: InstanceRegistry, id: string, stream: string, ...owner: [] | [string | undefined]): ResumeLookup | ResumeForbidden {
  const at = parseFrameId(id);
  const known = at && registry.get(at.streamId);
  if (!at || !known || known.stream !== stream) return { kind: 'expired', message: `stream position ${id} is not retained` };
  // Before anything about the instance's state: another principal learns nothing of it.
  if (owner.length > 0 && known.owner !== owner[0]) return { kind: 'forbidden', message: `stream ${stream} was opened by another principal` };
  if (known.ended && at.seq === known.replay.lastSeq) return { kind: 'ended', instance: known };
  const missed = known.replay.after(at.seq);
  if (!missed) return { kind: 'expired', message: `stream position ${id} is no longer retained` };
  return { kind: 'resume', instance: known, missed };
}

/**
 * A fresh instance with a 128-bit random id, owned by `owner` (the principal's id): registered
 * when the stream can be resumed, else a throwaway that keeps no frames.
 */
export function openInstance(registry: InstanceRegistry, stream: string, retention: Retention | undefined, owner?: string): StreamInstance {
  const streamId = newStreamId();
  return retention
    ? registry.create(streamId, stream, retention, owner)
    : { streamId, stream, replay: createReplayBuffer({ messages: 0 }), ended: false, live: undefined, owner };
}
