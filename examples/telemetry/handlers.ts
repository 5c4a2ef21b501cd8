// Handlers for spec/telemetry.yaml behind the generated server: stand-in devices, fleets and
// services whose output is a pure function of its position, so tests can check every message and
// every resume exactly (`resumeFrom` = how many messages the instance already produced).

import { setTimeout as sleep } from 'node:timers/promises';
import type { Event, Reading, Severity, Trace } from '../../generated/telemetry/types.js';
import type { EventsYield, TelemetryHandlers } from '../../generated/telemetry/server.js';

export interface FakeTelemetryOptions {
  /** Messages each stream produces before its terminal `end` (default 10). */
  readonly count?: number;
  /** Pause before each message, in ms (0: as fast as the transport pulls). */
  readonly delayMs?: number;
  /** Called when a handler's `finally` runs: lets tests see an abandoned stream stop. */
  readonly onStop?: (stream: string, produced: number) => void;
}

const SEVERITIES: readonly Severity[] = ['debug', 'info', 'warning', 'error'];
const SENSORS = ['temperature', 'humidity'] as const;

/** The i-th reading of a device (i from 0), cycling through the requested sensors. */
export function readingAt(i: number, sensors: readonly string[] = SENSORS): Reading {
  const sensor = sensors[i % sensors.length]!;
  return { sensor, value: i / 2, unit: sensor === 'humidity' ? 'percent' : 'celsius', timeUnixNano: i * 1_000_000 };
}

/**
 * The i-th message of a fleet's `events` stream (i from 0). Every fifth is an in-band `fault`
 * (a source went away; the stream goes on), the rest are events of rising severity.
 */
export function fleetMessageAt(fleetId: string, i: number): EventsYield {
  if (i % 5 === 4) return { type: 'fault', data: { code: 'SOURCE_UNAVAILABLE', message: `source ${i % 3} of ${fleetId} is unreachable`, retryable: true } };
  const event: Event = { source: `src-${i % 3}`, severity: SEVERITIES[i % 4]!, text: `event ${i} of ${fleetId}`, timeUnixNano: i * 1_000_000 };
  return { type: 'event', data: event };
}

/** The i-th finished trace of a service: a root span with one child. */
export function traceAt(service: string, i: number): Trace {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const start = i * 1_000_000;
  return {
    traceId: hex(i + 1, 32),
    root: {
      spanId: hex(2 * i + 1, 16),
      name: `${service} request ${i}`,
      startUnixNano: start,
      durationNanos: 500_000,
      status: 'ok',
      children: [{ spanId: hex(2 * i + 2, 16), name: 'db query', startUnixNano: start + 100_000, durationNanos: 200_000, children: [] }],
    },
  };
}

export function createHandlers(options: FakeTelemetryOptions = {}): TelemetryHandlers {
  const { count = 10, delayMs = 0, onStop } = options;
  // Yields make(i) for i in [from, total), pacing and reporting as the options say.
  async function* produce<T>(stream: string, from: number, total: number, signal: AbortSignal, make: (i: number) => T) {
    let produced = from;
    try {
      for (let i = from; i < total; i++) {
        if (delayMs) await sleep(delayMs, undefined, { signal });
        yield make(i);
        produced++;
      }
    } finally {
      onStop?.(stream, produced);
    }
  }

  return {
    async *readings({ request, signal, resumeFrom = 0 }) {
      const sensors = request.sensors?.length ? request.sensors : SENSORS;
      yield* produce('readings', resumeFrom, count, signal, (i) => ({ type: 'reading' as const, data: readingAt(i, sensors) }));
      return { type: 'end', data: null };
    },

    async *events({ params, request, signal, resumeFrom = 0 }) {
      // Filtered first, so `resumeFrom` counts the messages this request sees; faults always pass.
      const min = SEVERITIES.indexOf(request.minSeverity ?? 'debug');
      const all = Array.from({ length: count }, (_, i) => fleetMessageAt(params.fleetId, i));
      const seen = all.filter((m) => m.type === 'fault' || SEVERITIES.indexOf(m.data.severity) >= min);
      yield* produce('events', resumeFrom, seen.length, signal, (k) => seen[k]!);
      return { type: 'end', data: null };
    },

    async *traces({ params, signal }) {
      // resume: none, so there is no `resumeFrom` to honour.
      yield* produce('traces', 0, count, signal, (i) => ({ type: 'trace' as const, data: traceAt(params.service, i) }));
      return { type: 'end', data: null };
    },
  };
}
