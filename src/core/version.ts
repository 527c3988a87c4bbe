import { readFileSync } from 'node:fs';

/** The package's version, read from the package.json beside the sources (in a checkout and under node_modules alike). */
export const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
