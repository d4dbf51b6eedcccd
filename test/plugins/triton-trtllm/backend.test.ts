import tritonTrtllm from '../../../plugins/triton-trtllm/index.js';
import { runBackendContract } from '../backend-contract.js';
import { runClientSuite, SharedFace } from '../text-engine/client-suite.js';

const face = new SharedFace('triton-trtllm', 'a10-qwen2.5-7b-trtllm');
// Triton serves its metrics on their own port: known once the face listens.
let metricsUrl = '';
runBackendContract(tritonTrtllm, {
  start: async () => {
    const sim = await face.acquire();
    metricsUrl = sim.metricsUrl!;
    return { url: sim.url, close: () => face.release() };
  },
  reportsLoad: true,
  get options() {
    return { load_interval_ms: 50, metrics_url: metricsUrl };
  },
});

runClientSuite({ type: 'triton-trtllm', face, streams: true, reportsCompletionTokens: false, reportsCachedTokens: true, refusesPastContext: true, options: (sim) => ({ metrics_url: sim.metricsUrl }) });
