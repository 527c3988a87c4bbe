import { EXIT } from '../cluster/exit-codes.ts';
import { adminTargetOf, callAdmin, refusedToken, unexpectedAnswer, unreachable } from './admin-client.ts';

/**
 * `candor purge --config FILE [--route NAME [--key PREFIX]]`: drops stored answers from the
 * running gateway's route caches through its admin API (`DELETE /cache`, README "Admin API"):
 * every route's, one route's, or that route's keys starting with PREFIX (`host[:port] /path`, or
 * `/path` alone: that path's on every host).
 */
export async function runPurge(
  file: string,
  route: string | undefined,
  key: string | undefined,
): Promise<number> {
  const target = await adminTargetOf(file, '');
  if (typeof target === 'number') return target;
  const query = new URLSearchParams();
  if (route !== undefined) query.set('route', route);
  if (key !== undefined) query.set('key', key);
  const text = query.toString();
  let answer: { status: number; body: Record<string, unknown> };
  try {
    answer = await callAdmin(target, 'DELETE', text === '' ? '/cache' : `/cache?${text}`);
  } catch (err) {
    process.stderr.write(unreachable(target, file, err as Error));
    return EXIT.unavailable;
  }
  if (answer.status === 200 && typeof answer.body.removed === 'number') {
    const where =
      route === undefined ? 'every route' : `route "${route}"${key === undefined ? '' : ` under "${key}"`}`;
    // A purge too large to count exactly across the workers is told as the range it is.
    const most = answer.body.removed_at_most;
    const count =
      most === undefined
        ? String(answer.body.removed)
        : `at least ${String(answer.body.removed)} (at most ${String(most)})`;
    process.stdout.write(`purged ${count} stored answer(s) from ${where}\n`);
    return EXIT.ok;
  }
  // In effect in every worker, some still removing the files of a large cache.dir: done as far
  // as any client can tell, and said so, with the count there is.
  if (answer.status === 202 && typeof answer.body.removed_so_far === 'number') {
    const under = Array.isArray(answer.body.under_way) ? answer.body.under_way.length : 0;
    process.stdout.write(
      `purge in effect in every worker; ${String(answer.body.removed_so_far)} stored answer(s) removed so far, ${under} worker(s) still removing files from cache.dir (the gateway logs "admin purge finished" with each count)\n`,
    );
    return EXIT.ok;
  }
  process.stderr.write(answer.status === 401 ? refusedToken(target, file) : unexpectedAnswer(target, answer));
  return answer.status === 400 ? EXIT.usage : EXIT.unavailable;
}
