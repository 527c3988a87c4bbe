import { didYouMean } from '../did-you-mean.ts';
import { describeValue } from './describe-value.ts';
import { NAME_CHARS, NAME_PATTERN } from './formats.ts';
import { isMapping, itemsOf } from './raw-access.ts';
import type { Report } from './report.ts';

/** Each plugin's name is a name, and each plugin a route runs is one of `plugins:`, once. */
export function checkPlugins(plugins: unknown, routes: unknown, report: Report): void {
  const defined = isMapping(plugins) ? Object.keys(plugins) : [];
  for (const name of defined)
    if (!NAME_PATTERN.test(name))
      report(['plugins', name], `expected a plugin name of ${NAME_CHARS}, got ${describeValue(name)}`, 'key');
  for (const [index, route] of itemsOf(routes)) {
    const named = route.plugins;
    if (!Array.isArray(named)) continue;
    const seen = new Set<string>();
    for (const [at, name] of named.entries()) {
      if (typeof name !== 'string') continue;
      if (seen.has(name)) report(['routes', index, 'plugins', at], `plugin '${name}' is named twice`);
      seen.add(name);
      if (defined.includes(name)) continue;
      const suggestion = didYouMean(name, defined);
      const hint =
        suggestion === undefined
          ? `defined: ${defined.join(', ') || 'none'}`
          : `did you mean '${suggestion}'?`;
      report(['routes', index, 'plugins', at], `no plugin named '${name}' (${hint})`);
    }
  }
}
