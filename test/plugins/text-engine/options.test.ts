import { expect, it } from 'vitest';
import deepspeedMii from '../../../plugins/deepspeed-mii/index.js';
import tgi from '../../../plugins/tgi/index.js';
import tritonTrtllm from '../../../plugins/triton-trtllm/index.js';

it('validates the text-engine options of every text-engine plugin, naming the key', () => {
  for (const plugin of [tritonTrtllm, tgi, deepspeedMii]) {
    expect(plugin.validate({ tokenizer_json: '/m/tokenizer.json', tokenizer_config: '/m/tokenizer_config.json', prompt_style: 'qwen2.5', end_id: 2, stop_words: ['</s>'] }), plugin.type).toEqual([]);
    const problems = plugin.validate({ tokenizer_json: '/m/tokenizer.json', prompt_style: 'chatml', end_id: -1, pad_id: 1.5, stop_words: ['', 3], tokenizer_parallelism: -2 }).join('\n');
    for (const key of ['tokenizer_config', 'prompt_style', 'end_id', 'pad_id', 'stop_words', 'tokenizer_parallelism']) expect(problems, `${plugin.type} ${key}`).toContain(key);
  }
});

it("validates each plugin's own options, and refuses another plugin's", () => {
  expect(tritonTrtllm.validate({ model: 'tensorrt_llm_bls', metrics_url: 'http://10.0.0.5:8002/metrics', default_max_tokens: 256 })).toEqual([]);
  expect(tritonTrtllm.validate({ model: '', metrics_url: 'not a url', default_max_tokens: 0 }).join('\n')).toMatch(/model:[^]*metrics_url:[^]*default_max_tokens:/);
  expect(deepspeedMii.validate({ deployment: 'qwen-deployment' })).toEqual([]);
  expect(deepspeedMii.validate({ deployment: 3 }).join('\n')).toContain('deployment');
  expect(tgi.validate({ deployment: 'x' }).join('\n')).toContain('deployment: not a known option');
  expect(tgi.validate({ metrics_url: 'http://x' }).join('\n')).toContain('metrics_url: not a known option');
});

it('refuses an MII backend that names neither its deployment nor its models', () => {
  const ctx = { configDir: '/', log: { info() {}, warn() {}, error() {} }, limits: { connectTimeoutMs: 1000, headersTimeoutMs: 1000 }, drainingReader: true };
  expect(() => deepspeedMii.create({ id: 'mii', type: 'deepspeed-mii', url: 'http://127.0.0.1:1', labels: {}, options: {}, simulated: false }, ctx)).toThrow(/deployment/);
});
