// Preloaded (NODE_OPTIONS=--import) into `candor serve` by tests of a worker that crashes: a
// worker that gets SIGURG throws from the signal's listener, as a bug would, an exception
// nothing catches; one that gets SIGWINCH leaves a rejection nothing handles, as a bug would.
// The primary is left alone.
import cluster from 'node:cluster';

if (cluster.isWorker) {
  process.on('SIGURG', () => {
    throw new Error('a bug, thrown for the test');
  });
  process.on('SIGWINCH', () => {
    Promise.reject(new Error('a bug, rejected for the test'));
  });
}
