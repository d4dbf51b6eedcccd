/**
 * Backend plugins by type: the built-ins, and third-party plugins loaded from a module path named
 * in the config (`type: ./plugins/my-engine.js`), whose default export is a BackendPlugin.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import deepspeedMii from '../../plugins/deepspeed-mii/index.js';
import lmdeploy from '../../plugins/lmdeploy/index.js';
import openai from '../../plugins/openai/index.js';
import tgi from '../../plugins/tgi/index.js';
import tritonTrtllm from '../../plugins/triton-trtllm/index.js';
import trtllmServe from '../../plugins/trtllm-serve/index.js';
import trtllm from '../../plugins/trtllm/index.js';
import vllm from '../../plugins/vllm/index.js';
import type { BackendPlugin } from './types.js';

const BUILTIN: ReadonlyMap<string, BackendPlugin> = new Map([vllm, lmdeploy, trtllmServe, openai, trtllm, tritonTrtllm, tgi, deepspeedMii].map((p) => [p.type, p]));

export function builtinPluginTypes(): string[] {
  return [...BUILTIN.keys()];
}

function isModulePath(type: string): boolean {
  return type.startsWith('./') || type.startsWith('../') || path.isAbsolute(type);
}

function isPlugin(v: unknown): v is BackendPlugin {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.type === 'string' && typeof p.validate === 'function' && typeof p.create === 'function';
}

export async function resolvePlugin(type: string, configDir: string): Promise<BackendPlugin> {
  const builtin = BUILTIN.get(type);
  if (builtin) return builtin;
  if (!isModulePath(type)) {
    throw new Error(`one of ${builtinPluginTypes().join(', ')} or a module path starting with ./, ../ or /`);
  }
  const file = path.resolve(configDir, type);
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new Error(`a loadable plugin module (${file}: ${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isPlugin(mod.default)) throw new Error(`a module whose default export has type, validate() and create() (${file})`);
  return mod.default;
}
