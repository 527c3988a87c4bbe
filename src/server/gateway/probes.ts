/**
 * The two probes load balancers and Kubernetes ask: live (the process answers at all) and
 * ready (send me traffic). Ready turns 503 as soon as a drain begins, so whoever routes to the
 * gateway stops before its listeners close. Served by the admin listener without a token,
 * and on the main listeners under `admin.probes_path` when set.
 */
interface ProbeAnswer {
  readonly status: number;
  readonly body: string;
}

export function probeAnswer(which: 'live' | 'ready', draining: boolean): ProbeAnswer {
  if (which === 'live') return { status: 200, body: '{"status":"live"}\n' };
  return draining
    ? { status: 503, body: '{"status":"draining"}\n' }
    : { status: 200, body: '{"status":"ready"}\n' };
}

/** Which probe a GET path asks for under `prefix` ("/_candor/ready" → ready), if any. */
export function probeAt(prefix: string, path: string): 'live' | 'ready' | undefined {
  const base = prefix === '/' ? '' : prefix;
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  if (bare === `${base}/live`) return 'live';
  if (bare === `${base}/ready`) return 'ready';
  return undefined;
}
