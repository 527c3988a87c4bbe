import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * ArrayBuffer memory once it has stopped moving: sampled every 50 ms after a full collection,
 * until eight samples in a row are within `steadyWithin` bytes of the one before.
 */
export async function settledArrayBuffers(steadyWithin = 64 * 1024): Promise<number> {
  let last = -1;
  let same = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    gc();
    const now = process.memoryUsage().arrayBuffers;
    same = Math.abs(now - last) < steadyWithin ? same + 1 : 0;
    last = now;
    if (same >= 8) return now;
  }
}
