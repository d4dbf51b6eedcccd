import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * An id unique per replica process: host and pid say where it runs (for operators reading
 * Redis), the random suffix keeps two stores in one process (tests, workers) apart.
 */
export function newGatewayId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}
