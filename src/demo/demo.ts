import { readFileSync } from 'node:fs';
import { parseConfig } from '../config/load.ts';
import { startGateway } from '../gateway/gateway.ts';
import { onSignals } from '../gateway/signals.ts';
import { startDemoUpstreams } from './demo-upstreams.ts';

const DEMO_CONFIG = new URL('./demo.yaml', import.meta.url);

/** What each demo route shows, in the order the table prints them. */
const TOUR: readonly [path: string, shows: string][] = [
  ['/healthy', '200 from the healthy app, passed through untouched'],
  ['/healthy/?status=503&retry_after=7', "the app's own 503 + Retry-After, untouched (received-status=503)"],
  ['/refused', '502 connection_refused: nothing listens on the port'],
  ['/unresolvable', '502 dns_error: the host name does not resolve'],
  ['/tls-mismatch', '502 tls_protocol_error: https:// to a plain HTTP port'],
  ['/slow', '504 http_response_timeout after 2 s: accepted, never answered'],
  ['/reset', '502 connection_terminated: closed before the response head'],
  ['/garbage', '502 http_protocol_error: an SSH server on the port'],
  ['/badheader', '502 http_protocol_error: an invalid response header'],
  ['/truncated', '200, then the transfer is aborted: reset mid-body (logged http_response_incomplete)'],
  [
    '/pool',
    '200 always: one of three targets dies and returns every 10 s (retried, ejected, health-checked)',
  ],
  ['/nowhere-else', '200 from the healthy app (the catch-all route)'],
];

/**
 * How the demo ended: stopped by Ctrl-C, or never started (its port taken). The command line
 * turns it into an exit status: the demo does not know the command line's codes.
 */
export type DemoEnd = 'stopped' | 'could_not_start';

/**
 * `npm start`: the gateway on the demo config, with its own demo upstreams (one healthy,
 * one per failure shape) on free ports handed to the config through its ${DEMO_*_PORT}
 * variables. Runs until Ctrl-C.
 */
export async function startDemo(): Promise<DemoEnd> {
  const upstreams = await startDemoUpstreams();
  const env = { ...process.env, ...upstreams.env };
  const config = parseConfig(readFileSync(DEMO_CONFIG, 'utf8'), DEMO_CONFIG.pathname, env);
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    await upstreams.close();
    process.stderr.write(
      `candor demo: could not start: ${(err as Error).message} (set CANDOR_PORT to use another port)\n`,
    );
    return 'could_not_start';
  }
  const base = `http://${config.listen[0].host}:${gateway.listeners[0].port()}`;
  const width = Math.max(...TOUR.map(([path]) => base.length + path.length));
  const lines = TOUR.map(([path, shows]) => `  ${(base + path).padEnd(width)}  ${shows}`);
  process.stderr.write(
    `\nCandor demo: gateway "${config.name}" on ${base}, access log on stdout.\n\n` +
      `Try (add -H 'Accept: application/json' for problem+json, or open them in a browser):\n\n` +
      `${lines.join('\n')}\n\n  curl -i ${base}/refused\n\nCtrl-C stops it.\n\n`,
  );
  // Ctrl-C drains as SIGTERM does in production (a second one ends it at once); the demo logs
  // to stdout, so SIGUSR1 has no file to reopen.
  await new Promise<void>((stopped) => {
    onSignals((action) => {
      if (action === 'reopen-logs') return;
      (action === 'drain' ? gateway.drain() : gateway.drainNow()).then(stopped, stopped);
    });
  });
  await upstreams.close();
  return 'stopped';
}
