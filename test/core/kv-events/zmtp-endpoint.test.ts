import { describe, expect, it } from 'vitest';
import { formatEndpoint, netAddress, offsetEndpointPort, parseEndpoint } from '../../../core/kv-events/zmtp-endpoint.js';

describe('ZeroMQ endpoints', () => {
  it('parses tcp (wildcard, names, bracketed IPv6) and ipc endpoints', () => {
    expect(parseEndpoint('tcp://*:5557')).toEqual({ transport: 'tcp', host: null, port: 5557 });
    expect(parseEndpoint('tcp://engine-0:5557')).toEqual({ transport: 'tcp', host: 'engine-0', port: 5557 });
    expect(parseEndpoint('tcp://[::1]:5558')).toEqual({ transport: 'tcp', host: '::1', port: 5558 });
    expect(parseEndpoint('ipc:///tmp/kv.sock')).toEqual({ transport: 'ipc', path: '/tmp/kv.sock' });
    expect(netAddress(parseEndpoint('tcp://*:1'))).toEqual({ port: 1 });
    expect(formatEndpoint(parseEndpoint('tcp://[::1]:5558'))).toBe('tcp://[::1]:5558');
    for (const bad of ['inproc://x', 'tcp://host', 'tcp://host:99999', 'tcp://:1', 'ipc://']) expect(() => parseEndpoint(bad)).toThrow();
  });

  it('puts data-parallel rank r on the configured port plus r, as vLLM does', () => {
    expect(offsetEndpointPort('tcp://engine-0:5557', 0)).toBe('tcp://engine-0:5557');
    expect(offsetEndpointPort('tcp://engine-0:5557', 3)).toBe('tcp://engine-0:5560');
    expect(() => offsetEndpointPort('ipc:///tmp/kv', 1)).toThrow(/TCP/);
  });
});
