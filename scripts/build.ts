/**
 * `npm run build` (and `prepack`): the package that npm publishes runs from node_modules, where
 * Node will not strip types, so it ships JavaScript and declarations compiled by TypeScript into
 * dist/. The checkout itself never runs dist/: `npm start` and `npm test` run the sources.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist');

// A module deleted from src/ must not live on in the package from an earlier build.
rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
// The files the code reads beside itself at run time (the demo's YAML): every non-TypeScript file
// of src/, so that one added later ships without a change here.
cpSync(join(ROOT, 'src'), DIST, {
  recursive: true,
  filter: (source) => !source.endsWith('.ts'),
});
