import type { RequestLine } from './log-record.ts';

/** A route's 401s and 403s for one method, and how many of them the proxy's own access rules made. */
export interface RefusalRow {
  /** The route the line names; '' when its format names none. */
  readonly route: string;
  /** The request's method; '' when the line names none. */
  readonly method: string;
  readonly unauthorized: number;
  readonly forbidden: number;
  /** Those the proxy's access rules answered (Candor's `auth: denied…`); the rest are the upstream's own. */
  readonly byProxy: number;
  /** Those whose line does not say who refused (a format that does not tell: Envoy's, nginx's). */
  readonly makerUnknown: number;
}

type Counts = { -readonly [K in keyof RefusalRow]: RefusalRow[K] };

/**
 * The 401s and 403s of the logs, by route and method (issue 59): where clients are refused, and
 * whether by the gateway's access rules or by the app behind it. One entry per route and method
 * seen with a refusal, so bounded by the routes and methods of the logs, not by their lines.
 */
export class RefusalTally {
  readonly #rows = new Map<string, Counts>();

  add(line: RequestLine): void {
    if (line.status !== 401 && line.status !== 403) return;
    const route = line.route ?? '';
    const method = line.method ?? '';
    const key = `${route}\n${method}`;
    let row = this.#rows.get(key);
    if (row === undefined) {
      row = { route, method, unauthorized: 0, forbidden: 0, byProxy: 0, makerUnknown: 0 };
      this.#rows.set(key, row);
    }
    if (line.status === 401) row.unauthorized++;
    else row.forbidden++;
    if (line.deniedBy === 'proxy') row.byProxy++;
    else if (line.deniedBy === undefined) row.makerUnknown++;
  }

  /** The rows, most refusals first (then by route and method, so a report reads the same each time). */
  rows(): RefusalRow[] {
    return [...this.#rows.values()]
      .map((row) => ({ ...row }))
      .sort(
        (a, b) =>
          b.unauthorized + b.forbidden - (a.unauthorized + a.forbidden) ||
          a.route.localeCompare(b.route) ||
          a.method.localeCompare(b.method),
      );
  }
}
