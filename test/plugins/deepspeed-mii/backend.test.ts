import deepspeedMii from '../../../plugins/deepspeed-mii/index.js';
import { runBackendContract } from '../backend-contract.js';
import { MODEL, runClientSuite, SharedFace } from '../text-engine/client-suite.js';

// MII has no profile of its own: the face runs the engine model of the same GPU and model.
const face = new SharedFace('deepspeed-mii', 'a10-qwen2.5-7b-vllm');
runBackendContract(deepspeedMii, {
  start: async () => {
    const sim = await face.acquire();
    return { url: sim.url, close: () => face.release() };
  },
  // MII's REST gateway has no load endpoint.
  reportsLoad: false,
  options: { deployment: MODEL },
});

runClientSuite({ type: 'deepspeed-mii', face, streams: false, reportsCompletionTokens: true, reportsCachedTokens: false, refusesPastContext: false, options: () => ({ deployment: MODEL }) });
