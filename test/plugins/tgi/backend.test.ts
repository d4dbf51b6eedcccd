import tgi from '../../../plugins/tgi/index.js';
import { runBackendContract } from '../backend-contract.js';
import { runClientSuite, SharedFace } from '../text-engine/client-suite.js';

// TGI has no profile of its own: the face runs the engine model of the same GPU and model.
const face = new SharedFace('tgi', 'a10-qwen2.5-7b-vllm');
runBackendContract(tgi, {
  start: async () => {
    const sim = await face.acquire();
    return { url: sim.url, close: () => face.release() };
  },
  reportsLoad: true,
});

runClientSuite({ type: 'tgi', face, streams: true, reportsCompletionTokens: true, reportsCachedTokens: false, refusesPastContext: true, options: () => ({}) });
