import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { removeWorkDirs, ROOT, workDir, writeFiles } from '../../test/support/tools.ts';
import { lintSpec } from '../pipeline.ts';
import { websocketServerView } from './websocket.ts';
import { websocketClientView } from './websocket-client.ts';

afterAll(removeWorkDirs);

const bound = (spec: string, cwd = ROOT) => {
  const r = lintSpec(spec, { cwd, transport: 'websocket' });
  if (!r.bound) throw new Error(`${spec}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  return r.bound;
};

describe('websocketServerView', () => {
  it.each([
    [
      'bidirectional, in-band, credit (room)',
      {
        given: 'spec/room.yaml',
        want:
          '{ name: "room", path: ["/v1/rooms/", { param: "roomId" }], direction: "bidirectional", validateParams: v.validateRoomParams, ' +
          'validateRequest: v.validateRoomRequest, validateMessage: v.validateRoomMessage, validateClientMessage: v.validateRoomClientMessage, ' +
          'terminal: "closed", errors: { mode: "in-band", message: "problem", codes: ["FORBIDDEN", "ROOM_FULL", "MESSAGE_TOO_LONG", "INTERNAL", "INVALID_REQUEST", "RESUME_EXPIRED"] }, ' +
          'backpressure: { kind: "credit", buffer: 256, credits: 32 }, resume: { messages: 1000, seconds: 600 }, heartbeatMs: 20000, heartbeatTimeoutMs: 60000, auth: "required" }',
      },
    ],
  ])('%s: the descriptor as one finished literal', (_, { given, want }) => {
    expect(websocketServerView(bound(given), '').streams[0]!.descriptorLiteral).toBe(want);
  });

  it.each(['spec/room.yaml', 'spec/ingest.yaml', 'spec/assistant.yaml', 'spec/alerts.yaml', 'spec/telemetry.yaml'])(
    '%s: the server and the client decide `sends` and the initial credit alike',
    (spec) => {
      const b = bound(spec);
      const server = websocketServerView(b, '').streams;
      const client = websocketClientView(b, '').streams;
      expect(server.map((s) => s.sends)).toEqual(client.map((s) => s.sends));
      expect(server.map((s) => /credits: (\d+)/.exec(s.descriptorLiteral)?.[1])).toEqual(client.map((s) => String(s.credits)));
    },
  );

  it('keeps a hostile path inside its string literal', () => {
    const dir = workDir('ws-hostile-descriptor');
    const room = readFileSync(join(ROOT, 'spec/room.yaml'), 'utf8')
      .replace('path: /v1/rooms/{roomId}', 'path: "/v1/it\'s/`x`/$z/\\"/\\u2028/{roomId}"')
      .replace('# yaml-language-server: $schema=./streamspec.schema.json', '');
    writeFiles(dir, { 'room.yaml': room });
    const literal = websocketServerView(bound('room.yaml', dir), '').streams[0]!.descriptorLiteral;
    expect(literal).toContain('path: ["/v1/it\'s/`x`/$z/\\"/\\u2028/", { param: "roomId" }]');
  });
});
