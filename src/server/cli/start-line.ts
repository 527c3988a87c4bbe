/**
 * The one line `candor serve` writes on stderr when it is up, whatever the log's destination:
 * what runs (version, config hash), where (listeners, admin API), and the pid to signal, the
 * primary's, which a shell that started it through npm (`npx candor serve`) does not have.
 */
import { VERSION } from '../../core/version.ts';

export interface StartFacts {
  readonly pid: number;
  readonly configPath: string;
  readonly configHash: string;
  readonly workers: number;
  /** The addresses the listeners are bound to (host:port), as the first worker bound them. */
  readonly listening: readonly string[];
  /** The admin API's bound address, when it runs. */
  readonly admin: string | undefined;
  readonly pidFile: string | undefined;
}

export function startLine(facts: StartFacts): string {
  const pid = facts.pidFile === undefined ? `pid ${facts.pid}` : `pid ${facts.pid} (in ${facts.pidFile})`;
  const workers = `${facts.workers} worker${facts.workers === 1 ? '' : 's'}`;
  const admin = facts.admin === undefined ? 'admin API off' : `admin API on ${facts.admin}`;
  return (
    `candor ${VERSION} started: ${pid}, config ${facts.configPath} ${facts.configHash}, ` +
    `listening on ${facts.listening.join(', ')}, ${workers}, ${admin}; ` +
    `signal this pid (SIGHUP reloads, SIGTERM drains)\n`
  );
}
