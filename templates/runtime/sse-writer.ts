// Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html).
// JSON.stringify never emits a raw CR or LF, so every payload fits on one `data:` line.

import { payloadJson, type Frame, type FrameEncoder } from './frames.js';

/** Headers of an SSE response. No charset other than utf-8: Chromium aborts the stream on any other. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-store',
  // nginx buffers proxied responses unless told not to, which would hold frames back.
  'x-accel-buffering': 'no',
};

// The last type found free of line breaks: a stream repeats a few types, so most frames skip the scan.
let checkedType = '';

export const sseEncoder: FrameEncoder = {
  contentType: SSE_HEADERS['content-type']!,
  preamble: (retryMs) => `retry: ${Math.max(0, Math.floor(retryMs))}\n\n`,
  frame: (f) => {
    // Contract names cannot hold a line break, but a handler's type is only checked when output
    // validation is on; a break here would let it forge frames.
    if (f.type !== checkedType) {
      if (/[\r\n]/.test(f.type)) throw new Error(`message type ${JSON.stringify(f.type)} contains a line break`);
      checkedType = f.type;
    }
    return (
      (f.dropped > 0 ? `event: $dropped\ndata: {"count":${f.dropped}}\n\n` : '') +
      `id: ${f.id}\nevent: ${f.type}\ndata: ${payloadJson(f.data)}\n\n`
    );
  },
  heartbeat: () => ': hb\n\n',
};
