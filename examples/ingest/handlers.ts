// Handlers for spec/ingest.yaml behind the generated gRPC server: a collector that counts the
// samples of each batch and refuses what the contract says it may refuse, so tests can check
// each out-of-band error's gRPC status.

import { StreamError, type IngestHandlers } from '../../generated/ingest/server.js';

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

export function createHandlers(options: CollectorOptions = {}): IngestHandlers {
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
