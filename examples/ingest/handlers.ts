// Handlers for spec/ingest.yaml behind the generated gRPC server: a collector that counts the
// samples of each batch and refuses what the contract says it may refuse, so tests can check
// each out-of-band error's gRPC status.

import { StreamError, type AuthRequest, type IngestHandlers } from '../../generated/ingest/server.js';

/** The caller of a call: what `authenticate` returns, `ctx.principal` in the handler. */
export interface Agent {
  readonly id: string;
}

/**
 * The collector's hook (spec/ingest.yaml says `auth: required`): `authorization: Bearer <token>`
 * metadata, looked up in `tokens` (token -> agent id). No metadata: undefined (UNAUTHENTICATED);
 * a token the collector does not know: UNAUTHENTICATED too, with a message that says so.
 */
export function createAuthenticate(tokens: Readonly<Record<string, string>>): (req: AuthRequest) => Agent | undefined {
  const known = new Map(Object.entries(tokens));
  return (req) => {
    const header = req.headers.get('authorization');
    if (!header) return undefined;
    const id = known.get(header.replace(/^Bearer /i, ''));
    if (id === undefined) throw new StreamError('UNAUTHENTICATED', 'unknown or revoked token');
    return { id };
  };
}

export interface CollectorOptions {
  /** Agents the collector knows; any other gets UNKNOWN_AGENT. Default: every agent. */
  readonly agents?: readonly string[];
  /** Most samples accepted per call before QUOTA_EXCEEDED. Default: no limit. */
  readonly quota?: number;
  /** Called for every batch as it is read: lets tests see how far the handler got. */
  readonly onBatch?: (sequence: number) => void;
  /** Called when a handler's `finally` runs (end, error or cancel). */
  readonly onStop?: (signalAborted: boolean) => void;
}

export function createHandlers(options: CollectorOptions = {}): IngestHandlers<Agent> {
  return {
    async *metrics({ request, messages, signal }) {
      try {
        if (options.agents && !options.agents.includes(request.agentId))
          throw new StreamError('UNKNOWN_AGENT', `agent ${request.agentId} is not registered`);
        let accepted = 0;
        let rejected = 0;
        const rejections: { sequence: number; reason: string }[] = [];
        for await (const m of messages) {
          options.onBatch?.(m.data.sequence);
          for (const s of m.data.samples) {
            if (s.kind === 'histogram' && !s.buckets?.length) {
              rejected++;
              rejections.push({ sequence: m.data.sequence, reason: `${s.name}: a histogram without buckets` });
              continue;
            }
            accepted++;
          }
          if (options.quota !== undefined && accepted > options.quota)
            throw new StreamError('QUOTA_EXCEEDED', `more than ${options.quota} samples in one call`, { retryable: true });
        }
        return { type: 'summary', data: { accepted, rejected, ...(rejections.length ? { rejections } : {}) } };
      } finally {
        options.onStop?.(signal.aborted);
      }
    },
  };
}
