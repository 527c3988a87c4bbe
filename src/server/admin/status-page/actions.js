// The page's write actions, each behind a confirmation. After each (done or failed) the page
// looks again; a refused token sends it back to asking for one. Both are told by an event on the
// document (page.js listens), so what acts knows nothing of how the page polls.
import { call, Unauthorized } from './api.js';
import { $, showNotice } from './dom.js';

/** Opens the confirmation dialog; resolves with the input's value when confirmed, undefined when not. */
export function confirmAction(title, text, input) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-input-label').hidden = input === undefined;
  // A weight must be given (an emptied field would go as 0, out of rotation); a dialog without
  // the field does not check what an earlier one left in it.
  $('confirm-input').required = input !== undefined;
  $('confirm-input').disabled = input === undefined;
  if (input !== undefined) $('confirm-input').value = String(input);
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => resolve(dialog.returnValue === 'ok' ? $('confirm-input').value : undefined),
      { once: true },
    );
    dialog.showModal();
    (input === undefined ? $('confirm-cancel') : $('confirm-input')).focus();
  });
}

/**
 * Calls the API for a confirmed action and says how it went: `done(answer)` words the outcome,
 * `failed` names the action in the error line.
 */
export async function act(method, path, body, done, failed) {
  try {
    showNotice(done(await call(method, path, body)), 'done');
  } catch (err) {
    if (err instanceof Unauthorized) {
      document.dispatchEvent(new CustomEvent('status-page:refused', { detail: err.message }));
      return;
    }
    showNotice(`${failed} failed: ${err.message}`, 'error');
  }
  document.dispatchEvent(new Event('status-page:changed'));
}

/** A change every worker confirms (targets, maintenance): how many did. */
const confirmedBy = (what) => (answer) =>
  `${what}: confirmed by ${answer.workers.confirmed.length} worker(s).`;

const WHAT = {
  drain: 'Drain: it takes no new requests; those in flight finish.',
  disable: 'Disable: it takes no request at all, and its idle connections are closed.',
  enable: 'Enable: it takes requests again, as its health allows.',
};

export async function targetAction(upstream, target, action) {
  if (action === 'weight') {
    const value = await confirmAction(
      `Set the weight of ${target.url}?`,
      `Upstream ${upstream}. Its share of requests follows its weight (0 takes it out of rotation).`,
      target.weight,
    );
    if (value === undefined) return;
    const weight = Number(value);
    const what = `Weight of ${target.url} set to ${weight}`;
    const body = { upstream, weights: [{ target: target.url, weight }] };
    return act('PUT', '/targets/weights', body, confirmedBy(what), what);
  }
  const confirmed = await confirmAction(
    `${action[0].toUpperCase()}${action.slice(1)} ${target.url}?`,
    `Upstream ${upstream}. ${WHAT[action]}`,
  );
  if (confirmed === undefined) return;
  const what = `${target.url} in ${upstream}: ${action}`;
  return act('POST', `/targets/${action}`, { upstream, target: target.url }, confirmedBy(what), what);
}

export async function maintenance(route, enabled) {
  const confirmed = await confirmAction(
    `${enabled ? 'Start' : 'End'} maintenance on route ${route}?`,
    enabled
      ? 'Every request on this route will be answered 503 with the maintenance page until it ends.'
      : 'Requests on this route will go to its upstream again.',
  );
  if (confirmed === undefined) return;
  const what = `Maintenance ${enabled ? 'on' : 'off'} for route ${route}`;
  return act('PUT', '/routes/maintenance', { route, enabled }, confirmedBy(what), what);
}
