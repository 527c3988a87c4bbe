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
