// The admin API as the page calls it: with the token kept in this tab's sessionStorage, sent as
// a Bearer header. Never in a URL: it would land in logs and history.

const TOKEN_KEY = 'candor-admin-token';

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';

/** The token the page calls with ('' before one is given). */
export const currentToken = () => token;

export function keepToken(given) {
  token = given;
  if (given === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, given);
}

/** The API refused the token (401): the page asks for another instead of retrying. */
export class Unauthorized extends Error {}

/**
 * The API refuses this address's tokens for `retryAfter` seconds (429: too many wrong ones): the
 * page asks again after that, not at its next second, when an ask would spend the guess that came
 * back.
 */
export class TooManyGuesses extends Error {
  constructor(message, retryAfter) {
    super(message);
    this.retryAfter = retryAfter;
  }
}

export async function call(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  });
  const json = await res.json().catch(() => ({}));
  if (res.status === 401) throw new Unauthorized(json.detail ?? 'unauthorized');
  if (res.status === 429) {
    const seconds = Number(res.headers.get('retry-after'));
    throw new TooManyGuesses(
      json.detail ?? 'too many requests',
      Number.isFinite(seconds) ? Math.max(1, seconds) : 6,
    );
  }
  if (!res.ok) throw new Error(`${res.status} ${json.title ?? ''}: ${json.detail ?? ''}`);
  return json;
}
