/** Candidates whose backends publish KV-cache events holding a chosen number of a request's blocks. */
import type { LoadSignals } from '../../../../core/plugin/types.js';
import { RequestTokens } from '../../../../core/routing/exact-prefix.js';
import type { Candidate, RoutingRequest } from '../../../../core/routing/policy.js';
import { candidate } from '../../../core/routing/policy-contract.js';

export const BLOCK = 16;

/** A request of `blocks` full engine blocks of token ids. */
export function tokenRequest(blocks: number, id = 'r'): RoutingRequest {
  const ids = Int32Array.from({ length: blocks * BLOCK }, (_, i) => 1000 + i);
  return { requestId: id, model: 'm', headers: {}, body: { messages: [{ role: 'user', content: 'x' }] }, tokens: new RequestTokens(ids) };
}

/** A candidate whose engine holds the first `held` blocks of `request` (and `treeBlocks` blocks in all). */
export function exactCandidate(id: string, request: RoutingRequest, held: number, signals: Partial<LoadSignals> = {}, treeBlocks = held): Candidate {
  const c = candidate(id, true, signals);
  const keys = new Set(request.tokens!.keys(BLOCK).slice(0, held));
  return { ...c, backend: { ...c.backend, kvCache: { blockSize: BLOCK, live: () => true, holds: (k) => keys.has(k), describe: () => ({ blocks: treeBlocks }) } } };
}
