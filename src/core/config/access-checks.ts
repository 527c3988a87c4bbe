/** Checks of a route's access fields that span more than one of them. */

import { itemsOf, mappingAt } from './raw-access.ts';
import type { Report } from './report.ts';

export function checkAccess(routes: unknown, report: Report): void {
  for (const [index, route] of itemsOf(routes)) {
    const auth = mappingAt(route, 'auth');
    if (auth !== undefined && auth.basic === undefined)
      report(['routes', index, 'auth'], 'expected a way to authenticate: basic');
    const cors = mappingAt(route, 'cors');
    if (cors === undefined || cors.credentials !== true || !Array.isArray(cors.origins)) continue;
    // Fetch refuses "*" with credentials; answering it with the caller's own origin instead
    // would hand every site on the web the user's cookies.
    if (cors.origins.includes('*'))
      report(
        ['routes', index, 'cors', 'credentials'],
        'credentials: true cannot go with the origin "*" (any site could read answers made with the user\'s cookies): list the origins that may call the route',
      );
  }
}
