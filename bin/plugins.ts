/**
 * The built-in backend plugins. Part of the composition root (with the CLI in bin/main.ts): core
 * resolves `type:` names against what is registered here and imports no plugin itself.
 */
import { registerPlugins } from '../core/plugin/registry.js';
import type { BackendPlugin } from '../core/plugin/types.js';
import deepspeedMii from '../plugins/deepspeed-mii/index.js';
import lmdeploy from '../plugins/lmdeploy/index.js';
import openai from '../plugins/openai/index.js';
import tgi from '../plugins/tgi/index.js';
import tritonTrtllm from '../plugins/triton-trtllm/index.js';
import trtllmServe from '../plugins/trtllm-serve/index.js';
import trtllm from '../plugins/trtllm/index.js';
import vllm from '../plugins/vllm/index.js';

export const BUILTIN_PLUGINS: readonly BackendPlugin[] = [vllm, lmdeploy, trtllmServe, openai, trtllm, tritonTrtllm, tgi, deepspeedMii];

export function registerBuiltinPlugins(): void {
  registerPlugins(BUILTIN_PLUGINS);
}
