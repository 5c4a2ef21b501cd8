// Typed stream errors, shared by generated servers (handlers throw StreamError) and clients
// (which raise all three). Browser-safe and tiny: it ships in every client bundle.

/** An error the contract names: `code` is one of the stream's error codes or a built-in. */
export class StreamError extends Error {
  // `declare`: assigned in the constructor, so no field initialisers are emitted (bundle size).
  declare readonly code: string;
  declare readonly retryable: boolean;
  constructor(code: string, message: string, options?: { retryable?: boolean }) {
    super(message);
    this.name = 'StreamError';
    this.code = code;
    this.retryable = options?.retryable === true;
  }
}

// These two set `name` as a field: shorter in the bundle than a constructor that sets it.

/** The stream ended without its terminal message and could not be resumed. */
export class StreamInterruptedError extends Error {
  override name = 'StreamInterruptedError';
}

/** The peer broke the wire protocol: a malformed frame, or a gap in sequence numbers. */
export class StreamProtocolError extends Error {
  override name = 'StreamProtocolError';
}
