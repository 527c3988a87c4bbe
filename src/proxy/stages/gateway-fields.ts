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
