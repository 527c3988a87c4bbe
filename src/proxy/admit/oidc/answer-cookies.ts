/**
 * The Set-Cookie fields a request's answer is to carry (a session renewed on its way to the
 * upstream), by the request's head fields: access control decides them before the answer
 * exists, and the session stage (session-stage.ts) adds them to it, whichever answer it is.
 */
const pending = new WeakMap<readonly string[], readonly string[]>();

/** The session cookies `cookies` to be set on the answer to the request whose head fields are `headers`. */
export function setOnAnswer(headers: readonly string[], cookies: readonly string[]): void {
  pending.set(headers, cookies);
}

/** The cookies to be set on the answer to the request whose head fields are `headers`; undefined: none. */
export function cookiesForAnswer(headers: readonly string[]): readonly string[] | undefined {
  return pending.get(headers);
}
