/** Shared by the config tests: a source path that does not depend on the working directory, and error capture. */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';

export const SOURCE = join(import.meta.dirname, 'candor.yaml');

export const UPSTREAM_AND_ROUTE = `routes:
  - upstream: api
upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
`;

/** The smallest valid config: one listener, one route, one upstream. */
export const MINIMAL = `listen:
  - address: 127.0.0.1:8080
${UPSTREAM_AND_ROUTE}`;

/** A config of `routes` (a YAML list's items) over two upstreams, api and api-next. */
export const withRoutes = (routes: string) => `listen:
  - address: 127.0.0.1:8080
routes:
${routes}upstreams:
  api:
    targets:
      - url: http://127.0.0.1:3001
  api-next:
    targets:
      - url: http://127.0.0.1:3002
`;

/** The problems `parseConfig` throws for `text`; fails the test if it does not throw a ConfigError. */
export function problemsOf(
  text: string,
  env: NodeJS.ProcessEnv = {},
  source = SOURCE,
): readonly ConfigProblem[] {
  try {
    parseConfig(text, source, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

/** A problem in the fixture file, for deepEqual. */
export function problem(line: number, column: number, path: string, message: string): ConfigProblem {
  return { file: SOURCE, line, column, path, message };
}
