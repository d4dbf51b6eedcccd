/**
 * The gateway's accept-queue drain (src/accept.cc): every connection waiting on a listening
 * socket, taken in one call. The composition root (bin/serve.ts) hands it to the gateway; where
 * the addon is missing (not built, or not Linux) the gateway accepts as node:net does.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { AcceptPending } from '../core/server/accept-queue.js';
import { packageRoot } from '../core/util/package-root.js';

export function loadAcceptPending(): AcceptPending | undefined {
  if (process.platform !== 'linux') return undefined;
  const file = path.join(packageRoot(import.meta.url), 'native', 'build', 'Release', 'switchyard_accept.node');
  if (!existsSync(file)) return undefined;
  return (createRequire(import.meta.url)(file) as { acceptPending: AcceptPending }).acceptPending;
}
