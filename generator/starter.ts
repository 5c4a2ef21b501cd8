// The contract `streamspec init` writes: small, valid, and showing every primitive.

/** `schemaRef`: the format's JSON Schema, relative to the contract, for editor completion. */
export const starterContract = (schemaRef: string): string => `# yaml-language-server: $schema=${schemaRef}
streamspec: "1.0"
info:
  title: Service
  version: 0.1.0
package: service.v1
transport: sse
streams:
  events:
    summary: Events for one subject, as they happen.
    path: /v1/subjects/{subjectId}/events
    direction: server-to-client
    producer: server
    consumer: browser
    params:
      subjectId: { type: string }
    messages:
      event: { $ref: '#/components/schemas/Event' }
    termination:
      message: done
    errors:
      mode: fail-fast
      codes: [NOT_FOUND]
    backpressure: { strategy: pull, buffer: 64 }
    resume:
      strategy: last-event-id
      retention: { messages: 1000, seconds: 300 }
    heartbeat: { interval: 15s, timeout: 45s }
components:
  schemas:
    Event:
      type: object
      required: [kind, at]
      properties:
        kind: { type: string }
        at: { type: string, format: date-time }
`;
