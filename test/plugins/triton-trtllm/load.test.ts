import { expect, it } from 'vitest';
import { readTritonLoad } from '../../../plugins/triton-trtllm/load.js';

// tensorrtllm_backend v0.17.0 README.md, "Triton Metrics": an inflight-batcher model's gauges.
const README_SAMPLE = `# HELP nv_trt_llm_request_metrics TRT LLM request metrics
# TYPE nv_trt_llm_request_metrics gauge
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="context",version="1"} 1
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="scheduled",version="1"} 1
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="max",version="1"} 512
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="active",version="1"} 0
# HELP nv_trt_llm_kv_cache_block_metrics TRT LLM KV cache block metrics
# TYPE nv_trt_llm_kv_cache_block_metrics gauge
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="tokens_per",model="tensorrt_llm",version="1"} 64
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="used",model="tensorrt_llm",version="1"} 1
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="free",model="tensorrt_llm",version="1"} 6239
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max",model="tensorrt_llm",version="1"} 6239
`;

it('reads running, waiting, KV usage and the block layout from the README sample', () => {
  // active 0 with 1 scheduled (the sample is a snapshot between two reads): never a negative queue.
  expect(readTritonLoad(README_SAMPLE)).toEqual({ running: 1, waiting: 0, kvUsage: 1 / 6239, blockSize: 64, numBlocks: 6239 });
});

it('takes the waiting and fraction gauges of later releases over the derived figures', () => {
  const later = `${README_SAMPLE.replace('request_type="active",version="1"} 0', 'request_type="active",version="1"} 9')}`
    + 'nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="waiting",version="1"} 5\n'
    + 'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="tensorrt_llm",version="1"} 0.5\n';
  expect(readTritonLoad(later)).toMatchObject({ running: 1, waiting: 5, kvUsage: 0.5 });
  // Without the gauge, waiting is active minus scheduled.
  expect(readTritonLoad(README_SAMPLE.replace('request_type="active",version="1"} 0', 'request_type="active",version="1"} 9')).waiting).toBe(8);
});

it('reports nothing it did not read: a server without the backend metrics', () => {
  expect(readTritonLoad('nv_inference_request_success{model="ensemble",version="1"} 3\n')).toEqual({});
});
