import { describe, expect, it } from 'vitest';
import lmdeploy from '../../../plugins/lmdeploy/index.js';
import type { PluginContext } from '../../../core/plugin/types.js';

const ctx: PluginContext = {
  configDir: '.', log: { info: () => {}, warn: () => {}, error: () => {} },
  limits: { connectTimeoutMs: 1000, headersTimeoutMs: 1000 }, drainingReader: true,
};

describe('HTTP backend options: KV geometry for engines that do not report it', () => {
  it('takes block_size and kv_capacity_tokens as capabilities, and validates them', () => {
    expect(lmdeploy.validate({ block_size: 64, kv_capacity_tokens: 500_000 })).toEqual([]);
    expect(lmdeploy.validate({ block_size: 0 })).toEqual(['block_size: expected a positive integer (tokens per KV block), got 0']);
    const b = lmdeploy.create({ id: 'l', type: 'lmdeploy', url: 'http://127.0.0.1:9', labels: {}, options: { block_size: 64, kv_capacity_tokens: 500_000 }, simulated: false }, ctx);
    expect(b.capabilities).toMatchObject({ blockSize: 64, kvCapacityTokens: 500_000 });
  });
});
