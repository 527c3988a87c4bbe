/** Checks of a route's access fields that span more than one of them. */

import { itemsOf, mappingAt } from './raw-access.ts';
import type { Report } from './report.ts';

export function checkAccess(routes: unknown, report: Report): void {
  for (const [index, route] of itemsOf(routes)) {
    const auth = mappingAt(route, 'auth');
    const ways =
      auth === undefined ? 1 : ['basic', 'jwt', 'forward'].filter((way) => auth[way] !== undefined).length;
    if (ways !== 1)
      report(['routes', index, 'auth'], 'expected one way to authenticate: basic, jwt or forward');
    const jwt = mappingAt(auth, 'jwt');
    if (jwt !== undefined && (jwt.jwks_url === undefined) === (jwt.keys_file === undefined))
      report(
        ['routes', index, 'auth', 'jwt'],
        'expected where the keys are: jwks_url or keys_file (one of them)',
      );
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
