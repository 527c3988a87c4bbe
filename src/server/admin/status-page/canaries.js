// The canaries: each one's phase, share and step, its last look's figures, its latest actions,
// and the buttons that move it.
import { act, confirmAction } from './actions.js';
import { $, badge, clock, el } from './dom.js';

/**
 * Each canary: its phase, share and step, the last window's figures, its latest actions, and the
 * one click (roll back, promote). Red with the reason when a verdict rolled it back or paused it.
 */
export function renderCanaries(canaries) {
  $('canaries-section').hidden = canaries.length === 0;
  const panels = canaries.map((c) => {
    const failed = c.failed_metric !== null;
    const last = c.last_verdict;
    const figures =
      last === null
        ? 'not looked at yet'
        : `look ${last.look} of ${last.looks} at this step: ${
            last.decided
              ? last.metrics
                  .map((m) => `${m.metric}: ${m.canary} vs ${m.baseline} (p ${m.p.toPrecision(3)})`)
                  .join('; ')
              : last.answers !== undefined
                ? `not judged: the canary answered ${last.answers} of its ${last.requests.canary} requests`
                : `not judged: ${last.requests.canary} canary and ${last.requests.baseline} baseline requests so far`
          }`;
    const buttons = [];
    if (c.phase !== 'rolled_back')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'rollback', onclick: () => canaryAction(c.route, 'rollback') },
          'Roll back',
        ),
      );
    if (c.phase !== 'promoted')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'promote', onclick: () => canaryAction(c.route, 'promote') },
          'Promote',
        ),
      );
    if (c.phase === 'running')
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'pause', onclick: () => canaryAction(c.route, 'pause') },
          'Pause',
        ),
      );
    else
      buttons.push(
        el(
          'button',
          { type: 'button', 'data-action': 'start', onclick: () => canaryAction(c.route, 'start') },
          'Start',
        ),
      );
    return el(
      'div',
      {
        class: `canary ${failed ? 'failed' : c.phase === 'running' || c.phase === 'promoted' ? '' : 'stopped'}`,
        'data-route': c.route,
      },
      el(
        'p',
        {},
        el('strong', { class: 'mono' }, c.route),
        ` ${c.canary} against ${c.baseline}: `,
        badge(c.phase.replace('_', ' '), c.phase),
        ` ${c.share}% (step ${c.step} of ${c.steps.length}: ${c.steps.join(' → ')}%)`,
      ),
      ...(c.reason === null ? [] : [el('p', { class: 'reason' }, c.reason)]),
      el('p', { class: 'note' }, figures),
      el(
        'ul',
        { class: 'actions' },
        ...c.actions.slice(-5).map((a) => el('li', {}, `${clock(a.at)} ${a.summary}`)),
      ),
      el('div', {}, ...buttons),
    );
  });
  $('canaries').replaceChildren(...panels);
}

const CANARY_WHAT = {
  rollback: ['Roll back', 'Its share goes to 0 at once: every request goes to the baseline.'],
  promote: ['Promote', 'It takes every request: the baseline gets none.'],
  pause: ['Pause', 'Its share stays where it is and nothing moves until it is started again.'],
  start: ['Start', 'It moves again: on from the step it paused at, at its share, else from the first.'],
};

async function canaryAction(route, action) {
  const [verb, what] = CANARY_WHAT[action];
  const confirmed = await confirmAction(`${verb} the canary of route ${route}?`, what);
  if (confirmed === undefined) return;
  const done = (answer) =>
    `Canary of ${route}: ${answer.canary.phase.replace('_', ' ')} at ${answer.canary.share}%.`;
  return act('POST', `/canary/${action}`, { route }, done, `${verb} of the canary of ${route}`);
}
