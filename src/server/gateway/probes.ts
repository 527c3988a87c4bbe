/**
 * The two probes load balancers and Kubernetes ask: live (the process answers at all) and
 * ready (send me traffic). Ready turns 503 as soon as a drain begins, so whoever routes to the
 * gateway stops before its listeners close. Served by the admin listener without a token,
 * and on the main listeners under `admin.probes_path` when set.
 */
import { Failure } from '../../core/failure/failure.ts';
import { type PathOptions, withoutQuery } from '../../core/uri-path.ts';
import { routedPath } from '../../proxy/route/request-path.ts';
import { splitTarget } from '../../proxy/route/request-target.ts';

interface ProbeAnswer {
  readonly status: number;
  readonly body: string;
}

/**
 * `starting`: no worker listens yet (the cluster primary's admin listener opens before it forks
 * them), so "ready" would send clients to a refused port.
 */
export function probeAnswer(which: 'live' | 'ready', draining: boolean, starting = false): ProbeAnswer {
  if (which === 'live') return { status: 200, body: '{"status":"live"}\n' };
  if (draining) return { status: 503, body: '{"status":"draining"}\n' };
  return starting
    ? { status: 503, body: '{"status":"starting"}\n' }
    : { status: 200, body: '{"status":"ready"}\n' };
}

/** Which probe a GET path asks for under `prefix` ("/_candor/ready" → ready), if any. */
export function probeAt(prefix: string, path: string): 'live' | 'ready' | undefined {
  const base = prefix === '/' ? '' : prefix;
  const bare = withoutQuery(path);
  if (bare === `${base}/live`) return 'live';
  if (bare === `${base}/ready`) return 'ready';
  return undefined;
}

/**
 * Which probe a request target asks for under `prefix`, judged on the path the router would
 * match: its normal form (request-path.ts), the absolute form's path included. Judged on the
 * target as sent, `/x/../_candor/ready` would pass the gateway's own probe by and reach the
 * upstream as the `/_candor/ready` routing resolves it to, so a load balancer's probe would
 * read the upstream's answer as the gateway's. A target routing refuses is no probe: the
 * session answers its 400.
 */
export function probeFor(prefix: string, target: string, paths: PathOptions): 'live' | 'ready' | undefined {
  const normal = routedPath(target, splitTarget(target || '/', '').path, paths);
  return normal instanceof Failure ? undefined : probeAt(prefix, normal.path);
}
