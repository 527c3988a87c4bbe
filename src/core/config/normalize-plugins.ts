import { isAbsolute, resolve } from 'node:path';
import { DEFAULTS } from './defaults.ts';
import type { RawConfig } from './schema.ts';
import type { PluginConfig } from './types.ts';
import { parseDuration } from './units.ts';

type RawPlugins = NonNullable<RawConfig['plugins']>;

/** `plugins` in runtime units, a module path taken from the config file's directory (normalize.ts does the rest). */
export function toPlugins(raw: RawPlugins, baseDir: string): Record<string, PluginConfig> {
  const plugins: Record<string, PluginConfig> = {};
  for (const [name, plugin] of Object.entries(raw))
    plugins[name] = {
      module: isModulePath(plugin.module) ? resolve(baseDir, plugin.module) : plugin.module,
      options: plugin.options,
      timeout:
        plugin.timeout === undefined
          ? DEFAULTS.plugin.timeout
          : (parseDuration(plugin.timeout) ?? DEFAULTS.plugin.timeout),
      onError: plugin.on_error ?? DEFAULTS.plugin.onError,
    };
  return plugins;
}

/** A module written as a path (./x.ts, ../x.js, /abs/x.mjs), not a package name (as Node's own import reads it). */
export function isModulePath(module: string): boolean {
  return module.startsWith('./') || module.startsWith('../') || isAbsolute(module);
}
