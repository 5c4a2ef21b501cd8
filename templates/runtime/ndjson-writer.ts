// NDJSON framing: one JSON object a line. Keys in a fixed order (seq, id, type, data, dropped)
// so the bytes are predictable for tests and for anyone diffing captures.

import { payloadJson, type Frame, type FrameEncoder } from './frames.js';

export const NDJSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/x-ndjson',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

export const ndjsonEncoder: FrameEncoder = {
  contentType: NDJSON_HEADERS['content-type']!,
  // NDJSON has no reconnect hint; the client uses its own default delay.
  preamble: () => '',
  frame: (f: Frame) =>
    `{"seq":${f.seq},"id":${JSON.stringify(f.id)},"type":${JSON.stringify(f.type)},"data":${payloadJson(f.data)}` +
    (f.dropped > 0 ? `,"dropped":${f.dropped}}\n` : '}\n'),
  heartbeat: () => '{"type":"$heartbeat"}\n',
};
