// Preloaded (NODE_OPTIONS=--import) into `candor serve` by tests of a worker that cannot drain:
// a worker that gets SIGURG spins forever, as a stuck loop would, so it never runs its own
// drain deadline and only the primary's backstop ends it. The primary is left alone.
import cluster from 'node:cluster';

if (cluster.isWorker)
  process.on('SIGURG', () => {
    for (;;);
  });
