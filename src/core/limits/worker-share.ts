/**
 * Which slice of a limit split among a cluster's workers one worker enforces: worker
 * `index` of `of` (README, "Limits across workers").
 */
export interface WorkerShare {
  readonly index: number;
  readonly of: number;
}

/** Worker i of N gets ⌊max/N⌋, plus one while i < max mod N: the slices add up exactly to max. */
export function sliceOf(max: number, share: WorkerShare): number {
  return Math.floor(max / share.of) + (share.index < max % share.of ? 1 : 0);
}

/**
 * The environment variable in which the primary tells each worker it forks how many workers the
 * gateway runs (workers.ts): what a worker needs before the primary's first message, to size
 * what it makes at its start (the password hash threads, password-hash-threads.ts).
 */
export const WORKERS_ENV = 'CANDOR_WORKERS';

/** The gateway's number of worker processes, as the primary said; 1 for a gateway run in-process. */
export function workersOfThisGateway(env: NodeJS.ProcessEnv = process.env): number {
  const told = Number(env[WORKERS_ENV]);
  return Number.isInteger(told) && told >= 1 ? told : 1;
}
