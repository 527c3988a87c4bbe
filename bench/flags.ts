/**
 * The command line of a scenario bench (cache-hit.ts, h2.ts, compression.ts): `--name N` pairs,
 * each a whole number, every name one of `defaults`'; anything else throws `usage`.
 */
export function wholeNumbers<T extends Record<string, number>>(
  argv: readonly string[],
  defaults: T,
  usage: string,
  /** The least each may be (1 unless told). */
  least: Partial<Record<keyof T, number>> = {},
): T {
  const options: Record<string, number> = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    const value = Number(argv[i + 1]);
    if (!(name in options) || !Number.isInteger(value) || value < (least[name] ?? 1)) throw new Error(usage);
    options[name] = value;
  }
  return options as T;
}
