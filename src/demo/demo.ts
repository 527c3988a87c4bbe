import { EXIT } from '../cli/exit-codes.ts';

export async function startDemo(): Promise<number> {
  process.stderr.write('demo: not yet\n');
  return EXIT.unavailable;
}
