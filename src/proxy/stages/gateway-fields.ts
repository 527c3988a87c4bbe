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
