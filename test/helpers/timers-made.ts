import { createHook } from 'node:async_hooks';

/** Timers made while `run` runs (async_hooks sees every Timeout Node creates). */
export function timersMadeBy(run: () => void): number {
  let made = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'Timeout') made++;
    },
  }).enable();
  try {
    run();
  } finally {
    hook.disable();
  }
  return made;
}
