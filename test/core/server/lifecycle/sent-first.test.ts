/**
 * The request leaves before the gateway's bookkeeping (dispatch.ts, `onSent`): when the backend's
 * dispatch is called, the learner has not yet recorded the decision (the prompt's prefix is not in
 * the backend's index); once the request has left, it is, and the answer carries the decision's
 * route reason. A backend that retracts prefixes from its engine's
 * events still gets the prompt's prefix hashes with the dispatch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimServer } from '../../../../bench/sim/server.js';
import type { Backend, BackendPlugin, DispatchCall } from '../../../../core/plugin/types.js';
import { startGateway, type Gateway } from '../../../../core/server/gateway.js';
import { loadConfig } from '../../../../core/config/load.js';
import vllm from '../../../../plugins/vllm/index.js';
import { startEngine, writeConfig } from '../gateway-helpers.js';

interface Seen { indexed: number; prefixHashes: number }

describe('the request leaves before the bookkeeping', () => {
  let engine: SimServer;
  let gw: Gateway;
  const seen = new Map<string, Seen>();

  /** Backend ids starting with "links" follow KV events as the in-process engine does (onPrefixRetraction). */
  const plugin: BackendPlugin = {
    type: 'vllm',
    validate: (options) => vllm.validate(options),
    create: (spec, ctx): Backend => {
      const b = vllm.create(spec, ctx);
      const dispatch = b.dispatch.bind(b);
      b.dispatch = (call: DispatchCall) => {
        seen.set(spec.id, { indexed: gw.routes.state.prefixes.of(spec.id).size, prefixHashes: call.prefixHashes?.length ?? 0 });
        return dispatch(call);
      };
      if (spec.id.startsWith('links')) b.onPrefixRetraction = () => {};
      return b;
    },
  };

  beforeAll(async () => {
    engine = await startEngine('vllm', { model: 'm' });
    const file = writeConfig({
      listen: { host: '127.0.0.1', port: 0 },
      backends: [{ id: 'plain', type: 'vllm', url: engine.url }, { id: 'links', type: 'vllm', url: engine.url }],
      routes: [{ model: 'm', backends: ['plain'], policy: { type: 'least-load' } }, { model: 'n', backends: ['links'], policy: { type: 'least-load' } }],
    });
    gw = await startGateway(await loadConfig(file), { port: 0, host: '127.0.0.1', logLevel: 'silent', plugins: new Map([['vllm', plugin]]) });
  });
  afterAll(async () => {
    await gw?.drain();
    await engine?.close();
  });

  const prompt = 'A prompt long enough to span several of the router\'s prefix chunks. '.repeat(40);
  const post = (model: string) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, max_tokens: 2, messages: [{ role: 'user', content: prompt }] }),
  });

  it('records the decision only once the request has left', async () => {
    const res = await post('m');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-route-reason')).toBeTruthy();
    await res.arrayBuffer();
    expect(seen.get('plain')).toEqual({ indexed: 0, prefixHashes: 0 });
    expect(gw.routes.state.prefixes.of('plain').size).toBeGreaterThan(0);
  });

  it('hands a backend that retracts prefixes the prompt\'s prefix hashes with the dispatch', async () => {
    const res = await post('n');
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const links = seen.get('links')!;
    expect(links.prefixHashes).toBeGreaterThan(0);
    expect(links.indexed).toBe(0);
    expect(gw.routes.state.prefixes.of('links').size).toBe(links.prefixHashes);
  });
});
