/**
 * A route that reaches an upstream another route tells the signed-in user in a field
 * (`auth.identity_header`), or the user's claims (`auth.jwt`/`auth.oidc` `claims_to_headers`), or
 * what its auth service answered (`auth.forward.copy_headers`), without taking the client's own
 * copy of those fields out. The gateway removes a client's `X-User` only on the routes whose auth
 * writes it, so a sibling route to the same app (one without auth: its health page, its public
 * assets, a webhook) passes a forged `X-User: admin` straight through, and an app that trusts the
 * field (it was told the gateway always writes it) takes the forger for a signed-in admin. Warned,
 * not refused: the upstream may read the field on the authenticated paths only.
 */
import type { RouteConfig } from './route-config.ts';
import type { PathSegment } from './schema.ts';

/** A field's name as the gateway's removal compares it: case-insensitive, `_` read as `-` (CGI-style apps read both alike). */
const spelling = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** The upstreams a route's requests may go to (its own, its split's sides, its canary), each with the field that names it. */
function reached(route: RouteConfig): { readonly upstream: string; readonly path: readonly PathSegment[] }[] {
  if (route.split !== undefined)
    return route.split.map((side, at) => ({ upstream: side.upstream, path: ['split', at, 'upstream'] }));
  const all: { upstream: string; path: readonly PathSegment[] }[] = [];
  if (route.upstream !== undefined) all.push({ upstream: route.upstream, path: ['upstream'] });
  if (route.canary !== undefined) all.push({ upstream: route.canary.upstream, path: ['canary', 'upstream'] });
  return all;
}

/** Which of a route's auth settings writes a set of fields for the upstream. */
type Kind =
  | 'identity_header'
  | 'auth.jwt.claims_to_headers'
  | 'auth.oidc.claims_to_headers'
  | 'auth.forward.copy_headers';

/** The fields a route's auth writes for its upstream (spelled as `spelling` makes them), by the setting that writes them. */
function written(route: RouteConfig): { readonly kind: Kind; readonly fields: readonly string[] }[] {
  const auth = route.access?.auth;
  if (auth === undefined) return [];
  const all: { kind: Kind; fields: readonly string[] }[] = [];
  if (auth.identityHeader !== undefined)
    all.push({ kind: 'identity_header', fields: [spelling(auth.identityHeader)] });
  const claims = (kind: Kind, pairs: readonly { readonly header: string }[] | undefined) => {
    if (pairs !== undefined && pairs.length > 0)
      all.push({ kind, fields: pairs.map((pair) => spelling(pair.header)) });
  };
  claims('auth.jwt.claims_to_headers', auth.jwt?.claimsToHeaders);
  claims('auth.oidc.claims_to_headers', auth.oidc?.claimsToHeaders);
  const copied = auth.forward?.copyHeaders ?? [];
  if (copied.length > 0) all.push({ kind: 'auth.forward.copy_headers', fields: copied.map(spelling) });
  return all;
}

/**
 * Whether the route takes the client's copy of `field` (spelled as `spelling` makes it) out of what
 * it sends upstream: its own auth writes the field (and so removes the client's), or its
 * `request_headers` remove or set it.
 */
function strips(route: RouteConfig, field: string): boolean {
  if (written(route).some((set) => set.fields.includes(field))) return true;
  const rules = route.requestHeaders;
  if (rules === undefined) return false;
  return (
    rules.remove.some((name) => spelling(name) === field) ||
    rules.set.some((rule) => spelling(rule.lower) === field)
  );
}

/** One route's fields of one kind, told one upstream (each field with the first route that writes it, whatever its kind). */
interface Told {
  readonly kind: Kind;
  readonly by: number;
  readonly fields: string[];
}

/** The warnings of every route that lets a client's copy of another route's identity fields reach that route's upstream. */
export function forgeableIdentityHeaders(
  routes: readonly RouteConfig[],
): { readonly path: readonly PathSegment[]; readonly message: string }[] {
  // Each upstream's field sets, each field in the set of the first route that writes it.
  const told = new Map<string, Told[]>();
  for (const [index, route] of routes.entries())
    for (const { kind, fields } of written(route))
      for (const { upstream } of reached(route)) {
        const sets = told.get(upstream) ?? [];
        const fresh = fields.filter((field) => !sets.some((set) => set.fields.includes(field)));
        if (fresh.length === 0) continue;
        const own = sets.find((set) => set.kind === kind && set.by === index);
        if (own === undefined) sets.push({ kind, by: index, fields: [...new Set(fresh)] });
        else own.fields.push(...fresh.filter((field) => !own.fields.includes(field)));
        told.set(upstream, sets);
      }
  const warnings: { path: readonly PathSegment[]; message: string }[] = [];
  for (const [index, route] of routes.entries())
    for (const { upstream, path } of reached(route))
      for (const { kind, by, fields } of told.get(upstream) ?? []) {
        const open = fields.filter((field) => !strips(route, field));
        if (open.length === 0) continue;
        const writer = routes[by];
        const hasAuth = route.access?.auth !== undefined;
        if (kind === 'identity_header') {
          const [field] = open;
          const which = hasAuth ? `has auth that does not write ${field}` : 'has no auth';
          warnings.push({
            path: ['routes', index, ...path],
            message: `upstream '${upstream}' is told the signed-in user in ${field} by routes[${by}] ("${writer.name}"), and this route to it ${which}: a client's own ${field} goes through as sent, so an app that trusts the field takes a forged "${field}: admin" for a signed-in user; take it out here (request_headers: { remove: [${field}] }), or give this route auth with identity_header: ${field}`,
          });
          continue;
        }
        // The claims or the auth service's fields: one warning for the set, naming those let through.
        const list = open.join(', ');
        const one = open.length === 1;
        const which = hasAuth ? `has auth that does not write ${one ? 'it' : 'them'}` : 'has no auth';
        const what =
          kind === 'auth.forward.copy_headers'
            ? 'what its auth service answered'
            : "the signed-in user's claims";
        warnings.push({
          path: ['routes', index, ...path],
          message: `upstream '${upstream}' is told ${what} in ${list} by routes[${by}] ("${writer.name}")'s ${kind}, and this route to it ${which}: a client's own ${list} ${one ? 'goes' : 'go'} through as sent, so an app that trusts ${one ? 'the field' : 'the fields'} takes a forged "${open[0]}: admin" for the signed-in user's; take ${one ? 'it' : 'them'} out here (request_headers: { remove: [${list}] }), or give this route the same ${kind}`,
        });
      }
  return warnings;
}

/** What each of a route's request rules does to a field its auth wrote (they run after it: request-lifecycle.md). */
const UNDOES = {
  remove: { own: 'takes it out after', result: 'the upstream is never told it' },
  set: { own: 'replaces it after', result: 'the upstream is told that value, never what the auth wrote' },
  add: { own: 'adds a second value beside it', result: 'the upstream reads either' },
} as const;

/**
 * A route's `request_headers` (its own, or route_defaults') that remove, set or add a field its
 * own auth writes: the header rules run after the access stage, so they undo what it wrote, and
 * the upstream is not told the user. Written once in route_defaults, the `remove` the warning
 * above asks of the routes without auth reaches the route with it too. Warned, not refused: a
 * config that loads keeps loading after an upgrade. One warning a route and rule.
 */
export function authFieldsRuledOut(routes: readonly RouteConfig[]): {
  readonly path: readonly PathSegment[];
  readonly message: string;
  readonly fromDefault: string;
}[] {
  const warnings: { path: readonly PathSegment[]; message: string; fromDefault: string }[] = [];
  for (const [index, route] of routes.entries()) {
    const rules = route.requestHeaders;
    if (rules === undefined) continue;
    const named = {
      remove: rules.remove.map(spelling),
      set: rules.set.map((rule) => spelling(rule.lower)),
      add: rules.add.map((rule) => spelling(rule.lower)),
    };
    for (const rule of ['remove', 'set', 'add'] as const) {
      const hit = written(route)
        .flatMap(({ kind, fields }) => fields.map((field) => ({ kind, field })))
        .find(({ field }) => named[rule].includes(field));
      if (hit === undefined) continue;
      const setting = hit.kind === 'identity_header' ? 'auth.identity_header' : hit.kind;
      const { own, result } = UNDOES[rule];
      const what = `${hit.field} is written by the route's ${setting}, and`;
      warnings.push({
        path: ['routes', index, 'request_headers', rule],
        message: `${what} request_headers.${rule} ${own}: ${result}; leave it out of request_headers (the auth removes a client's own copy already)`,
        fromDefault: `${what} this default's ${rule} ${own}: ${result}; give the route request_headers of its own (request_headers: {} takes none of the default's)`,
      });
    }
  }
  return warnings;
}
