/**
 * Backend plugins by type: the built-ins the composition root registered, and third-party plugins
 * loaded from a module path named in the config (`type: ./plugins/my-engine.js`), whose default
 * export is a BackendPlugin.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendPlugin } from './types.js';

/**
 * The built-in plugins, by type. Core knows none of them: the composition root (bin/plugins.ts)
 * registers them at startup, so core imports nothing from plugins/.
 */
const BUILTIN = new Map<string, BackendPlugin>();

export function registerPlugins(plugins: readonly BackendPlugin[]): void {
  for (const p of plugins) BUILTIN.set(p.type, p);
}

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
    if (BUILTIN.size === 0) throw new Error('a module path starting with ./, ../ or / (no built-in plugins are registered: bin/plugins.ts registers them)');
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
