/**
 * `npm run build` (and `prepack`): the package that npm publishes runs from node_modules, where
 * Node will not strip types, so it ships JavaScript and declarations compiled by TypeScript into
 * dist/. The checkout itself never runs dist/: `npm start` and `npm test` run the sources.
 *
 * `--kit` builds packages/kit (`candor-kit`) instead: the client and the app kit alone, compiled
 * from the same sources. tsc follows the imports of the two entry points, so the kit's dist/ holds
 * exactly what they need (the failure taxonomy, the retry vocabulary, the ids) and nothing of the
 * gateway.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const KIT = join(ROOT, 'packages/kit');
const kit = process.argv.includes('--kit');
const dist = join(kit ? KIT : ROOT, 'dist');

// A module deleted from src/ must not live on in the package from an earlier build.
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(kit ? KIT : ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (kit) {
  // npm packs the LICENSE of the package's own folder; the project has one, copied at build time.
  copyFileSync(join(ROOT, 'LICENSE'), join(KIT, 'LICENSE'));
} else {
  // The files the code reads beside itself at run time (the demo's YAML): every non-TypeScript
  // file of src/, so that one added later ships without a change here.
  cpSync(join(ROOT, 'src'), dist, {
    recursive: true,
    filter: (source) => !source.endsWith('.ts'),
  });
}
