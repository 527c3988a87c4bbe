// The status page's script, loaded as a module with the parts it imports (status-page/*.js, each
// served beside it): it polls the admin API (GET /status, GET /activity, GET /events and
// GET /canary, once a second) with the token the page was given. Polling rather than server-sent
// events because an EventSource cannot send an Authorization header, and the token must not
// travel in a URL (it would land in logs and history).
import { renderActivity, WINDOW_S } from './status-page/activity.js';
import { call, currentToken, keepToken, TooManyGuesses, Unauthorized } from './status-page/api.js';
import { renderAttention, troubles } from './status-page/attention.js';
import { renderCanaries } from './status-page/canaries.js';
import { $, showNotice } from './status-page/dom.js';
import { refreshFleet } from './status-page/fleet.js';
import { renderStatus } from './status-page/gateway.js';

const POLL_MS = 1000;
let timer;

// ── the token ──────────────────────────────────────────────────────────────────

function askForToken(message, refused) {
  clearTimeout(timer);
  $('auth').hidden = false;
  $('auth').classList.toggle('refused', refused);
  $('auth-message').textContent = message;
  $('data').hidden = true;
  $('token').focus();
}

$('auth-form').addEventListener('submit', (event) => {
  event.preventDefault();
  keepToken($('token').value.trim());
  $('token').value = '';
  $('auth').hidden = true;
  refresh();
});

$('token-change').addEventListener('click', () => {
  keepToken('');
  askForToken('Enter the admin token.', false);
});

// An action (actions.js) done or failed: look again at once. Its token refused: ask for another.
document.addEventListener('status-page:changed', () => refresh());
document.addEventListener('status-page:refused', (event) =>
  askForToken(`The admin API refused the token (401: ${event.detail}).`, true),
);

// ── polling ────────────────────────────────────────────────────────────────────

/**
 * One look at a time. A refresh asked for while a look is under way (an action's, after its
 * answer) waits for that look and runs in place of its timer: else each such call would start a
 * polling loop of its own, beside the timer's, and every later action one more.
 */
let looking = false;
let lookAgain = false;

async function refresh() {
  clearTimeout(timer);
  if (looking) {
    lookAgain = true;
    return;
  }
  looking = true;
  const next = await look();
  looking = false;
  if (lookAgain) {
    lookAgain = false;
    return refresh();
  }
  if (next !== false) timer = setTimeout(refresh, next);
}

/**
 * Reads the gateway's state and shows it: the milliseconds until the next look, or false when the
 * page waits for a token instead.
 */
async function look() {
  if (currentToken() === '') {
    askForToken('Every figure on this page comes from the admin API, which needs its token.', false);
    return false;
  }
  // The token the answers are for: one changed meanwhile ("Change token") has its own look.
  const asked = currentToken();
  try {
    // The changes of the chart's window, with a minute to spare for a clock apart from the gateway's.
    const since = Date.now() - (WINDOW_S + 60) * 1000;
    const [status, activity, events, canary] = await Promise.all([
      call('GET', '/status'),
      call('GET', '/activity'),
      call('GET', `/events?since=${since}`),
      call('GET', '/canary'),
    ]);
    if (currentToken() !== asked) return false;
    $('data').hidden = false;
    $('auth').hidden = true;
    const focused = focusedButton();
    renderStatus(status);
    await refreshFleet(status.config.etcd);
    renderActivity(activity, events.events);
    renderCanaries(canary.canaries);
    renderAttention(troubles(status, canary.canaries));
    focusAgain(focused);
    $('updated').textContent = new Date().toLocaleTimeString();
    if ($('notice').dataset.kind === 'unreachable') showNotice('', '');
  } catch (err) {
    if (err instanceof Unauthorized) {
      askForToken(`The admin API refused the token (401: ${err.message}). Enter the admin token.`, true);
      return false;
    }
    if (err instanceof TooManyGuesses) {
      // Its Retry-After, not the next second: each ask once the wait is over is a guess, which a
      // page left open with a wrong token spent as each came back (ask again with another token
      // at once: the form's submit looks now).
      if (currentToken() !== asked) return false;
      showNotice(
        `The admin API refuses this address's tokens for now (429: ${err.message}). Asking again in ${err.retryAfter} s.`,
        'error',
        'unreachable',
      );
      return err.retryAfter * 1000;
    }
    showNotice(`Could not read the gateway's state: ${err.message}. Retrying…`, 'error', 'unreachable');
  }
  return POLL_MS;
}

/**
 * The button the operator is on (keyboard focus), named by what it acts on: a look redraws its
 * table, and the focus went to the page's body every second. Matched by attributes, not by a
 * selector: target URLs and route names are any text.
 */
function focusedButton() {
  const button = document.activeElement;
  const owner = button?.dataset?.action ? button.closest('[data-target], [data-route]') : null;
  if (!owner) return undefined;
  return { action: button.dataset.action, tag: owner.tagName, ...owner.dataset };
}

function focusAgain(was) {
  if (was === undefined || (document.activeElement?.isConnected && document.activeElement !== document.body))
    return;
  const { action, tag, ...owned } = was;
  for (const button of document.querySelectorAll(`#data button[data-action="${action}"]`)) {
    const owner = button.closest('[data-target], [data-route]');
    if (owner?.tagName !== tag) continue;
    const same = Object.entries(owned).every(([name, value]) => owner.dataset[name] === value);
    if (same) return button.focus();
  }
}

refresh();
