// Files the gRPC transport adds to the common ones (types, validators, proto): see issue 5.

import type { BoundContract } from '../ir/bind.ts';
import type { Target } from './index.ts';

/** Runtime modules (templates/runtime/) copied for this transport, beyond validation and errors. */
export const GRPC_RUNTIME: readonly string[] = [];

/** Artifacts the design promises that this build cannot emit yet. */
export const GRPC_NOT_YET: readonly string[] = ['server.ts', 'client.ts', 'conformance/'];

export function grpcTargets(_bound: BoundContract, _tsHeader: string): Target[] {
  return [];
}
