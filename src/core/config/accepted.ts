import type { Parsed } from './addresses.ts';

/**
 * What normalisation reads, the checks already accepted: a value that does not parse now is a
 * bug in the loader, not in the file. One home for the normalize*.ts files.
 */
export function accepted<T>(parsed: Parsed<T>): T {
  if ('problem' in parsed) throw new Error(`config loader bug: ${parsed.problem}`);
  return parsed.value;
}

export function present(amount: number | undefined): number {
  if (amount === undefined) throw new Error('config loader bug: a validated duration or size did not parse');
  return amount;
}
