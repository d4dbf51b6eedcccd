/**
 * ZeroMQ endpoint strings, for the transports node:net can carry: `tcp://host:port` (host may
 * be `*` when binding, or a bracketed IPv6 address) and `ipc:///path` (a Unix socket).
 */

export type ZmtpEndpoint =
  | { transport: 'tcp'; host: string | null; port: number }
  | { transport: 'ipc'; path: string };

export class EndpointError extends Error {
  constructor(endpoint: string, why: string) {
    super(`endpoint "${endpoint}": ${why}`);
    this.name = 'EndpointError';
  }
}

/** `host` is null for `*` (every interface), which only makes sense to bind. */
export function parseEndpoint(endpoint: string): ZmtpEndpoint {
  if (endpoint.startsWith('ipc://')) {
    const path = endpoint.slice('ipc://'.length);
    if (path === '') throw new EndpointError(endpoint, 'no path');
    return { transport: 'ipc', path };
  }
  if (!endpoint.startsWith('tcp://')) throw new EndpointError(endpoint, 'expected tcp:// or ipc://');
  const rest = endpoint.slice('tcp://'.length);
  const colon = rest.lastIndexOf(':');
  if (colon < 0) throw new EndpointError(endpoint, 'no port');
  let host = rest.slice(0, colon);
  const port = Number(rest.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EndpointError(endpoint, 'port must be 0-65535');
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host === '') throw new EndpointError(endpoint, 'no host');
  return { transport: 'tcp', host: host === '*' ? null : host, port };
}

/** The options node:net takes to connect to or listen on an endpoint. */
export function netAddress(ep: ZmtpEndpoint): { host?: string; port: number } | { path: string } {
  if (ep.transport === 'ipc') return { path: ep.path };
  return ep.host === null ? { port: ep.port } : { host: ep.host, port: ep.port };
}

export function formatEndpoint(ep: ZmtpEndpoint): string {
  if (ep.transport === 'ipc') return `ipc://${ep.path}`;
  const host = ep.host === null ? '*' : ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  return `tcp://${host}:${ep.port}`;
}

/**
 * Where data-parallel rank `rank` of a vLLM server publishes: the configured TCP port plus the
 * rank (vllm/distributed/kv_events.py ZmqEventPublisher.offset_endpoint_port, which raises for
 * transports other than tcp and inproc; inproc cannot cross processes, so it is not here).
 */
export function offsetEndpointPort(endpoint: string, rank: number): string {
  if (rank === 0) return endpoint;
  const ep = parseEndpoint(endpoint);
  if (ep.transport !== 'tcp') throw new EndpointError(endpoint, 'a data-parallel rank offsets only a TCP port');
  return formatEndpoint({ ...ep, port: ep.port + rank });
}
