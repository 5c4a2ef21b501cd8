// What the HTTP streaming transports share: the message shape handlers yield, stream instance
// ids, frame ids (`<streamId>.<seq>`) and the interface both wire encoders implement.

import { randomBytes } from 'node:crypto';

/** A message as a handler yields it (and returns it, for the terminal message). */
export interface Message {
  readonly type: string;
  readonly data?: unknown;
}

/** One numbered frame, ready to encode. */
export interface Frame {
  readonly seq: number;
  readonly id: string;
  readonly type: string;
  readonly data: unknown;
  /** Messages discarded since the previous frame (lossy strategies); 0 otherwise. */
  readonly dropped: number;
}

/** Turns frames into wire text; one implementation per transport. */
export interface FrameEncoder {
  readonly contentType: string;
  /** Written once when the response opens (SSE: `retry:`); may be empty. */
  preamble(retryMs: number): string;
  frame(f: Frame): string;
  heartbeat(): string;
}

/** 128 random bits as 22 base64url characters: unguessable, so an id is also a capability. */
export function newStreamId(): string {
  return randomBytes(16).toString('base64url');
}

export function frameId(streamId: string, seq: number): string {
  return `${streamId}.${seq}`;
}

const FRAME_ID = /^([A-Za-z0-9_-]{22})\.(0|[1-9]\d{0,15})$/;

/** Splits `<streamId>.<seq>`; undefined when `id` is not one the runtime could have issued. */
export function parseFrameId(id: string): { readonly streamId: string; readonly seq: number } | undefined {
  const m = FRAME_ID.exec(id);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { streamId: m[1]!, seq } : undefined;
}

/** JSON for a payload; a message without one travels as `null`. */
export function payloadJson(data: unknown): string {
  return data === undefined ? 'null' : JSON.stringify(data);
}
