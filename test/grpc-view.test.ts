// The gRPC view model decides `sends` (handler `messages`, client `send()`) by the same rule as
// the WebSocket views, so a stream's API does not change with the transport.

import { describe, expect, it } from 'vitest';
import type { BoundContract } from '../generator/ir/bind.ts';
import { lintSpec } from '../generator/pipeline.ts';
import { grpcView } from '../generator/targets/grpc.ts';
import { sendsClientMessages } from '../generator/targets/websocket-client.ts';
import { ROOT } from './support/tools.ts';

const market = (): BoundContract => {
  const r = lintSpec('test/fixtures/grpc/market.yaml', { cwd: ROOT, transport: 'grpc' });
  if (!r.bound) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.bound;
};

/** market.yaml with `desk` (bidirectional) stripped of its client messages, as no checked contract is. */
const withoutDeskClientMessages = (): BoundContract => {
  const b = market();
  return {
    ...b,
    streams: b.streams.map((s) => (s.stream.name.wire === 'desk' ? { ...s, stream: { ...s.stream, clientMessages: [] } } : s)),
  };
};

describe('grpcView sends', () => {
  it.each([
    ['server-to-client (quotes)', { given: market, stream: 'quotes', want: false }],
    ['client-to-server (orders)', { given: market, stream: 'orders', want: true }],
    ['bidirectional (desk)', { given: market, stream: 'desk', want: true }],
    ['bidirectional without client messages', { given: withoutDeskClientMessages, stream: 'desk', want: false }],
  ])('%s', (_, { given, stream, want }) => {
    const bound = given();
    const view = grpcView(bound, '// header');
    const s = view.streams.find((v) => v.wire === stream)!;
    expect(s.sends).toBe(want);
    expect(s.sends).toBe(sendsClientMessages(bound.streams.find((b) => b.stream.name.wire === stream)!.stream));
    // No client messages: no validator is referenced (typescript.ts emits none) and the type is never.
    expect(s.descriptorLiteral.includes('ClientMessage')).toBe(want);
    expect(s.clientMessageType === 'never').toBe(!want);
  });
});
