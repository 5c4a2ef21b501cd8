// NDJSON framing: one JSON object a line. Keys in a fixed order (seq, id, type, data, dropped)
// so the bytes are predictable for tests and for anyone diffing captures.

import { frameJson, type FrameEncoder } from './frames.js';

export const NDJSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/x-ndjson',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

export const ndjsonEncoder: FrameEncoder = {
  contentType: NDJSON_HEADERS['content-type']!,
  // NDJSON has no reconnect hint; the client uses its own default delay.
  preamble: () => '',
  frame: (f) => frameJson(f) + '\n',
  heartbeat: () => '{"type":"$heartbeat"}\n',
};
