/**
 * A route's split and canary (issue 36): every upstream they name exists; a route has an
 * upstream or a split, never both; a canary needs the baseline `upstream`, names another one,
 * and climbs (a last step of 100 being its promotion); a hash_key has a split or a canary to keep users on one side of.
 */

import { didYouMean } from '../did-you-mean.ts';
import { judgedSteps, PROMOTION_SHARE } from './canary-promotion.ts';
import { DEFAULTS } from './defaults.ts';
import { isMapping, itemsOf, mappingAt, stringAt } from './raw-access.ts';
import type { Report } from './report.ts';
import { formatDuration, parseDuration } from './units.ts';

/**
 * A step's looks at most: the confidence is split over them (judge.ts), and split a hundred ways
 * a canary would need a hundred times the evidence at each look.
 */
const MAX_LOOKS_PER_STEP = 100;

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
      // Every weight written as 0: a weight the schema refused (-1 beside 1) is no 0.
      let allZero = true;
      for (const [i, side] of itemsOf(split)) {
        const name = stringAt(side, 'upstream');
        if (name === undefined) continue;
        known(name, at('split', i, 'upstream'));
        if (seen.has(name)) report(at('split', i, 'upstream'), `upstream '${name}' is in the split twice`);
        seen.add(name);
        if (side.weight !== 0) allZero = false;
      }
      if (Array.isArray(split) && split.length > 0 && seen.size > 0 && allZero)
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
      checkPromotionStep(canary, (i) => at('canary', 'steps', i), report);
      checkLooks(canary, at('canary', 'check_interval'), report);
      checkWalk(canary, (field) => at('canary', field), report);
    }
    if (route.hash_key !== undefined && split === undefined && canary === undefined && isMapping(route))
      report(
        at('hash_key'),
        "a route's hash_key keeps one user on one side of its split or canary: add a split or a canary (an upstream's own hash_key picks its target)",
        'key',
      );
  }
}

/**
 * A last step of 100 is the promotion (canary-promotion.ts): the canary needs a step judged
 * before it, and `on_success: hold` (held at the last step's share, never promoted) contradicts it.
 * A 100 anywhere else is followed by a step that cannot climb above it: the rising rule says so.
 */
function checkPromotionStep(
  canary: Record<string, unknown>,
  at: (step: number) => (string | number)[],
  report: Report,
): void {
  const steps = canary.steps;
  if (!Array.isArray(steps) || steps.at(-1) !== PROMOTION_SHARE) return;
  const last = steps.length - 1;
  if (last === 0)
    report(
      at(0),
      'a last step of 100 is the promotion: a canary needs a step below 100 before it, to be judged at',
    );
  else if (canary.on_success === 'hold')
    report(
      at(last),
      `a last step of 100 is the promotion, and on_success: hold holds the canary at its last step instead: drop the 100 (held at ${steps[last - 1]}%) or promote`,
    );
}

/** A step is looked at least once (at its end) and at most MAX_LOOKS_PER_STEP times. */
function checkLooks(canary: Record<string, unknown>, at: (string | number)[], report: Report): void {
  const check = parseDuration(stringAt(canary, 'check_interval') ?? '');
  if (check === undefined || check === 0) return;
  const step = parseDuration(stringAt(canary, 'step_interval') ?? '') ?? DEFAULTS.canary.stepInterval;
  if (check > step)
    report(
      at,
      `a step is looked at within its step_interval (${formatDuration(step)}): expected at most that, got ${formatDuration(check)}`,
    );
  else if (Math.ceil(step / check) > MAX_LOOKS_PER_STEP)
    report(
      at,
      `${Math.ceil(step / check)} looks a step split the confidence too thin: expected at least ${formatDuration(Math.ceil(step / MAX_LOOKS_PER_STEP))} (a hundredth of step_interval), got ${formatDuration(check)}`,
    );
}

/**
 * Each step judged lasts at least step_interval (a last step of 100, the promotion, is not one),
 * so a canary needs steps × step_interval to walk them all: a max_duration shorter could never promote, and would fail a canary for being on time.
 * Said at the field written (max_duration, else step_interval, else steps): a default has no line.
 */
function checkWalk(
  canary: Record<string, unknown>,
  at: (field: string) => (string | number)[],
  report: Report,
): void {
  const steps = judgedSteps(Array.isArray(canary.steps) ? canary.steps : DEFAULTS.canary.steps);
  const step = parseDuration(stringAt(canary, 'step_interval') ?? '') ?? DEFAULTS.canary.stepInterval;
  const max = parseDuration(stringAt(canary, 'max_duration') ?? '') ?? DEFAULTS.canary.maxDuration;
  const walk = steps * step;
  if (max >= walk) return;
  const field =
    ['max_duration', 'step_interval', 'steps'].find((name) => canary[name] !== undefined) ?? 'steps';
  report(
    at(field),
    `the canary walks ${steps} step${steps === 1 ? '' : 's'} of at least step_interval (${formatDuration(step)}) each, ${formatDuration(walk)} in all: expected a max_duration of at least that, got ${formatDuration(max)}${canary.max_duration === undefined ? ' (the default)' : ''}`,
  );
}
