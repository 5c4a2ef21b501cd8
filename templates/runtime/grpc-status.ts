// Contract error codes <-> gRPC status, one table for the server and the client (docs/grpc.md).
// The status code is what any gRPC peer understands; the contract's own code travels beside it
// in the `streamspec-error-code` metadata (trailers over gRPC, the error's metadata over
// Connect), so a generated client raises exactly the StreamError the handler threw.

import { Code, ConnectError } from '@connectrpc/connect';
import { StreamError } from './errors.js';

/** Metadata keys that carry the contract's error beside the gRPC status. */
export const ERROR_CODE_KEY = 'streamspec-error-code';
export const RETRYABLE_KEY = 'streamspec-retryable';

/** Codes whose names say what they mean in gRPC terms. */
const ALIASES: Readonly<Record<string, Code>> = {
  INVALID_REQUEST: Code.InvalidArgument,
  RESUME_EXPIRED: Code.OutOfRange,
  INTERNAL: Code.Internal,
  RATE_LIMITED: Code.ResourceExhausted,
  TOO_MANY_REQUESTS: Code.ResourceExhausted,
  QUOTA_EXCEEDED: Code.ResourceExhausted,
  OVERLOADED: Code.Unavailable,
  FORBIDDEN: Code.PermissionDenied,
  UNAUTHORIZED: Code.Unauthenticated,
  CONFLICT: Code.Aborted,
  TIMEOUT: Code.DeadlineExceeded,
  GONE: Code.NotFound,
};

/** gRPC's own code names (`NOT_FOUND`), which map to themselves. */
const GRPC_NAMES: ReadonlyMap<string, Code> = new Map(
  Object.entries(Code)
    .filter((e): e is [string, Code] => typeof e[1] === 'number')
    .map(([name, code]) => [name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase(), code]),
);

/**
 * The gRPC status for a contract error code: the alias table, then gRPC's own names, then
 * suffix rules (`*_NOT_FOUND`, `UNKNOWN_*` -> NOT_FOUND; `INVALID_*`, `*_TOO_LARGE`, `*_TOO_LONG`
 * -> INVALID_ARGUMENT; `*_EXCEEDED`, `*_FULL` -> RESOURCE_EXHAUSTED; `*_EXISTS` -> ALREADY_EXISTS;
 * `*_UNAVAILABLE`, `*_OFFLINE` -> UNAVAILABLE); anything else is FAILED_PRECONDITION.
 */
export function grpcStatusFor(code: string): Code {
  const known = ALIASES[code] ?? GRPC_NAMES.get(code);
  if (known !== undefined) return known;
  if (/_NOT_FOUND$|^UNKNOWN_/.test(code)) return Code.NotFound;
  if (/^INVALID_|_TOO_LARGE$|_TOO_LONG$/.test(code)) return Code.InvalidArgument;
  if (/_EXCEEDED$|_FULL$/.test(code)) return Code.ResourceExhausted;
  if (/_EXISTS$/.test(code)) return Code.AlreadyExists;
  if (/_UNAVAILABLE$|_OFFLINE$/.test(code)) return Code.Unavailable;
  return Code.FailedPrecondition;
}

/** The ConnectError a server ends a call with for a contract error. */
export function toConnectError(code: string, message: string, retryable: boolean): ConnectError {
  const metadata = new Headers({ [ERROR_CODE_KEY]: code });
  if (retryable) metadata.set(RETRYABLE_KEY, 'true');
  return new ConnectError(message, grpcStatusFor(code), metadata);
}

/**
 * The StreamError a client raises for a call that ended with an error status: the contract's
 * code from the metadata when the server sent one; else INTERNAL, with the gRPC status in the
 * message (a peer that is not a streamspec server, or a proxy, ended the call).
 */
export function fromConnectError(error: ConnectError): StreamError {
  const code = error.metadata.get(ERROR_CODE_KEY);
  if (code) return new StreamError(code, error.rawMessage, { retryable: error.metadata.get(RETRYABLE_KEY) === 'true' });
  return new StreamError('INTERNAL', `${Code[error.code] ?? error.code}: ${error.rawMessage}`);
}
