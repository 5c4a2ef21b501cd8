// Handlers for spec/assistant.yaml behind the generated server: a stand-in model that produces
// deterministic tokens, so tests can check every message and every resume exactly.

import { setTimeout as sleep } from 'node:timers/promises';
import { StreamError, type AssistantHandlers } from '../../generated/assistant/server.js';

export interface FakeModelOptions {
  /** Pause before each token, in ms (0: as fast as the client pulls). */
  readonly delayMs?: number;
  /** Called when a handler's `finally` runs: lets tests see an abandoned stream stop. */
  readonly onStop?: (stream: string, produced: number) => void;
}

export function createHandlers(options: FakeModelOptions = {}): AssistantHandlers {
  const { delayMs = 0, onStop } = options;
  return {
    // Messages 1..n are tokens, n+1 is usage, then `done`: `resumeFrom` says how many were produced.
    async *completion({ request, signal, resumeFrom = 0 }) {
      if (request.prompt === 'overload') throw new StreamError('OVERLOADED', 'the model is busy', { retryable: true });
      const n = request.maxTokens ?? 20;
      let produced = resumeFrom;
      try {
        for (let i = resumeFrom; i < n; i++) {
          if (delayMs) await sleep(delayMs, undefined, { signal });
          yield { type: 'token', data: { text: `w${i} `, index: i } };
          produced++;
        }
        if (resumeFrom <= n) yield { type: 'usage', data: { inputTokens: request.prompt.length, outputTokens: n } };
        return { type: 'done', data: { finishReason: 'stop' } };
      } finally {
        onStop?.('completion', produced);
      }
    },

    async *history({ params, request, resumeFrom = 0 }) {
      const turns = Math.min(request.limit ?? 3, 3);
      for (let i = resumeFrom; i < turns; i++) {
        const role = i % 2 === 0 ? 'user' : 'assistant';
        yield { type: 'turn', data: { role, text: `turn ${i} of ${params.conversationId}`, createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() } };
      }
      return { type: 'end', data: { count: turns, hasMore: false } };
    },
  };
}
