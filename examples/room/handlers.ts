// Handlers for spec/room.yaml behind the generated WebSocket server: a room that answers each
// client message, with an optional deterministic backlog so tests can check every message and
// every resume exactly.

import { setTimeout as sleep } from 'node:timers/promises';
import type { AuthRequest, RoomHandlers, RoomYield } from '../../generated/room/server.js';

/** Who is in the room: what `authenticate` returns, `ctx.principal` in the handler. */
export interface RoomUser {
  readonly id: string;
}

/**
 * For tests and demos only: takes any caller, the bearer token as the user id (`u-guest` without
 * one). A real server verifies the token and returns undefined (close 4401) when there is none.
 */
export const demoAuthenticate = (req: AuthRequest): RoomUser => ({
  id: req.headers.get('authorization')?.replace(/^Bearer /, '') || 'u-guest',
});

export interface RoomOptions {
  /** Messages already said in the room, sent right after `joined` (default 0). */
  readonly backlog?: number;
  /** Pause before each backlog message, in ms (0: as fast as the client grants credit). */
  readonly delayMs?: number;
  /** Called when the handler's `finally` runs, with how many messages the call produced. */
  readonly onStop?: (produced: number) => void;
}

/** Backlog message `i` of a room: the same text, id and time on every run. */
export function backlogMessage(roomId: string, i: number): RoomYield {
  return {
    type: 'said',
    data: {
      messageId: `${roomId}-${i}`,
      author: { userId: 'u-archive', displayName: 'archive' },
      text: `message ${i}`,
      sentAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    },
  };
}

export function createHandlers(options: RoomOptions = {}): RoomHandlers<RoomUser> {
  const { backlog = 0, delayMs = 0, onStop } = options;
  return {
    // Frame 1 is `joined`, frames 2..backlog+1 the backlog: `resumeFrom` says how many went out.
    // After that, one answer per client message; the client's `$end` leaves the room.
    async *room({ params, request, principal, messages, signal, resumeFrom = 0 }) {
      const me = { userId: principal.id, displayName: request.displayName ?? 'guest' };
      const opening: RoomYield[] = [{ type: 'joined', data: me }, ...Array.from({ length: backlog }, (_, i) => backlogMessage(params.roomId, i))];
      let produced = resumeFrom;
      try {
        for (let k = resumeFrom; k < opening.length; k++) {
          if (delayMs) await sleep(delayMs, undefined, { signal });
          yield opening[k]!;
          produced++;
        }
        let said = 0;
        for await (const m of messages) {
          if (m.type === 'startTyping') yield { type: 'typing', data: { userId: me.userId } };
          else if (m.data.text === '/leave') return { type: 'closed', data: { reason: 'left' } };
          else if (m.data.text.startsWith('/'))
            yield { type: 'problem', data: { code: 'FORBIDDEN', message: `unknown command ${m.data.text}`, retryable: false } };
          else
            yield {
              type: 'said',
              data: {
                messageId: `${params.roomId}-live-${said}`,
                author: me,
                text: m.data.text,
                ...(m.data.replyTo !== undefined ? { replyTo: m.data.replyTo } : {}),
                sentAt: new Date(Date.UTC(2026, 0, 2, 0, 0, said++)).toISOString(),
              },
            };
          produced++;
        }
        yield { type: 'left', data: me };
        return { type: 'closed', data: { reason: 'left' } };
      } finally {
        onStop?.(produced);
      }
    },
  };
}
