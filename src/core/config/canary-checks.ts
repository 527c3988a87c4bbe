/**
 * A route's split and canary (issue 36): every upstream they name exists; a route has an
 * upstream or a split, never both; a canary needs the baseline `upstream`, names another one,
 * and climbs; a hash_key has a split or a canary to keep users on one side of.
 */

import { didYouMean } from './did-you-mean.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';

export function checkSplitsAndCanaries(
  routes: unknown,
  upstreams: Record<string, unknown> | undefined,
  report: Report,
): void {
  const defined = Object.keys(upstreams ?? {});
  const known = (name: string, at: (string | number)[]) => {
    if (upstreams === undefined || Object.hasOwn(upstreams, name)) return;
    const suggestion = didYouMean(name, defined);
    report(
      at,
      `no upstream named '${name}' (${suggestion === undefined ? `defined: ${defined.join(', ') || 'none'}` : `did you mean '${suggestion}'?`})`,
    );
  };
  for (const [index, route] of itemsOf(routes)) {
    const at = (...path: (string | number)[]) => ['routes', index, ...path];
    const split = route.split;
    const canary = mappingAt(route, 'canary');
    if (split !== undefined) {
      if (route.upstream !== undefined)
        report(at('split'), 'a route has an upstream or a split, not both', 'key');
      if (route.redirect !== undefined)
        report(at('split'), 'a route that redirects forwards nothing: split has nothing to apply to', 'key');
      const seen = new Set<string>();
      let total = 0;
      for (const [i, side] of itemsOf(split)) {
        const name = stringAt(side, 'upstream');
        if (name === undefined) continue;
        known(name, at('split', i, 'upstream'));
        if (seen.has(name)) report(at('split', i, 'upstream'), `upstream '${name}' is in the split twice`);
        seen.add(name);
        total += typeof side.weight === 'number' ? side.weight : 1;
      }
      if (Array.isArray(split) && split.length > 0 && total === 0)
        report(at('split'), 'every weight of the split is 0: no request could be sent anywhere', 'key');
    }
    if (canary !== undefined) {
      if (split !== undefined)
        report(
          at('canary'),
          'a canary sets the split itself: a route has a split or a canary, not both',
          'key',
        );
      else if (route.upstream === undefined)
        report(
          at('canary'),
          "a canary is compared with the route's upstream (the baseline): name it in upstream",
          'key',
        );
      const name = stringAt(canary, 'upstream');
      if (name !== undefined) {
        known(name, at('canary', 'upstream'));
        if (name === route.upstream)
          report(
            at('canary', 'upstream'),
            `the canary's upstream is the baseline itself ('${name}'): name the new version's`,
          );
      }
      const steps = canary.steps;
      if (Array.isArray(steps))
        for (let i = 1; i < steps.length; i++)
          if (typeof steps[i] === 'number' && typeof steps[i - 1] === 'number' && steps[i] <= steps[i - 1])
            report(
              at('canary', 'steps', i),
              `expected a percent above the step before (${steps[i - 1]}), got ${steps[i]}`,
            );
    }
    if (route.hash_key !== undefined && split === undefined && canary === undefined && isMapping(route))
      report(
        at('hash_key'),
        "a route's hash_key keeps one user on one side of its split or canary: add a split or a canary (an upstream's own hash_key picks its target)",
        'key',
      );
  }
}
