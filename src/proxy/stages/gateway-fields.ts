import { reservedHeaderProblem } from '../../core/config/routing-values.ts';

/** The fields of a head Candor writes itself (framing, hop-by-hop, Via, the request id, Proxy-Status), as [name, value, …]. */
export function gatewayFields(headers: readonly string[]): string[] {
  const own: string[] = [];
  for (let i = 0; i < headers.length; i += 2)
    if (reservedHeaderProblem(headers[i].toLowerCase()) !== undefined) own.push(headers[i], headers[i + 1]);
  return own;
}

/** A stage's edit of a head leaves Candor's own fields as they were: what it wrote of them is dropped, what it took out put back. */
export function keepGatewayFields(headers: string[], own: readonly string[]): void {
  let w = 0;
  for (let i = 0; i < headers.length; i += 2) {
    if (reservedHeaderProblem(headers[i].toLowerCase()) !== undefined) continue;
    headers[w++] = headers[i];
    headers[w++] = headers[i + 1];
  }
  headers.length = w;
  headers.push(...own);
}

/**
 * `decide(self, arg)` over a head whose fields stages not Candor's own edit in place: Candor's
 * fields as they were once it decided, at once or when its promise settles (a stage that throws
 * too). Its subject and argument passed as they are: no closure per request.
 */
export function keepingGatewayFields<S, A, T>(
  headers: string[],
  decide: (self: S, arg: A) => T | Promise<T>,
  self: S,
  arg: A,
): T | Promise<T> {
  const own = gatewayFields(headers);
  let outcome: T | Promise<T>;
  try {
    outcome = decide(self, arg);
  } catch (err) {
    keepGatewayFields(headers, own);
    throw err;
  }
  if (outcome instanceof Promise) return outcome.finally(() => keepGatewayFields(headers, own));
  keepGatewayFields(headers, own);
  return outcome;
}

/**
 * The upstream's answer as a stage that keeps it (the cache) stores it: the fields `received` as
 * the upstream sent them, but those the route's stages took out of the head they edited in place
 * (`edited`): a field a plugin's onResponse removed (an internal token) stays out of every later
 * answer made of it. What a stage wrote is its request's, not the stored answer's (a cookie of
 * one client's); Candor's own fields (framing, Via, Proxy-Status) are the upstream's as sent.
 */
export function keptFields(edited: readonly string[], received: readonly string[]): readonly string[] {
  const left = new Set<string>();
  for (let i = 0; i < edited.length; i += 2) left.add(edited[i].toLowerCase());
  let kept: string[] | undefined;
  for (let i = 0; i < received.length; i += 2) {
    const name = received[i].toLowerCase();
    const taken = !left.has(name) && reservedHeaderProblem(name) === undefined;
    if (taken) kept ??= received.slice(0, i);
    else kept?.push(received[i], received[i + 1]);
  }
  return kept ?? received;
}
