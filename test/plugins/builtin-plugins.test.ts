import { withSimDefaults, type SimOptions } from '../../bench/sim/options.js';
import { startSim } from '../../bench/sim/server.js';
import lmdeploy from '../../plugins/lmdeploy/index.js';
import openai from '../../plugins/openai/index.js';
import trtllmServe from '../../plugins/trtllm-serve/index.js';
import vllm from '../../plugins/vllm/index.js';
import { runBackendContract } from './backend-contract.js';

function sim(engine: SimOptions['engine']) {
  const profile = engine === 'trtllm-serve' ? 'a10-qwen2.5-7b-trtllm' : `a10-qwen2.5-7b-${engine}`;
  return async () => {
    const s = await startSim(withSimDefaults({ engine, profile, port: 0, timeScale: 50, frontendOverheadMs: 0 }));
    return { url: s.url, close: () => s.close() };
  };
}

runBackendContract(vllm, { start: sim('vllm'), reportsLoad: true });
runBackendContract(lmdeploy, { start: sim('lmdeploy'), reportsLoad: true });
runBackendContract(trtllmServe, { start: sim('trtllm-serve'), reportsLoad: true });
// Any OpenAI-compatible server: here the vLLM face, whose load the openai plugin does not read.
runBackendContract(openai, { start: sim('vllm'), reportsLoad: false });
