import trtllm from '../../../plugins/trtllm/index.js';
import { runBackendContract } from '../backend-contract.js';

// The in-process engine has no server: the contract's URL is unused.
runBackendContract(trtllm, {
  start: async () => ({ url: 'http://127.0.0.1:1', close: async () => {} }),
  reportsLoad: true,
  options: { executor: 'model', profile: 'a10-qwen2.5-7b-trtllm', time_scale: 50 },
});
