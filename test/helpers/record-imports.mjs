// Preloaded with --import: appends "PID URL" for every module this process (and any process
// started with the same flags) resolves, to the file named by CANDOR_TEST_IMPORTS.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.CANDOR_TEST_IMPORTS;
if (file !== undefined)
  registerHooks({
    resolve(specifier, context, next) {
      const resolved = next(specifier, context);
      appendFileSync(file, `${process.pid} ${resolved.url}\n`);
      return resolved;
    },
  });
