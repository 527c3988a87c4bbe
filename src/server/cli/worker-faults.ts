/**
 * A worker's errors that nothing caught: an exception thrown past every catch, or a rejection
 * nothing handled (Node raises it as one). A plugin's (issue 57: the worker never dies of a
 * plugin) is logged at `error` naming it, and the worker goes on serving; any other is a bug of the
 * gateway's, which ends the worker at once as Node would (its replacement is the primary's).
 *
 * Why going on is safe after a plugin's error, when Node's own advice is not to go on after an
 * error nothing caught: that advice is for an exception that unwound code half-way through a
 * change of its state. A plugin's error here is one its own code made, in work it started itself
 * (a timer it set, a promise it left, its own socket's event): the gateway calls a plugin's hooks,
 * its factory and its close only inside a catch (stage-run.ts, plugins.ts), and a thrown error
 * counts as a plugin's only when every frame of its stack outside Node's is a plugin's file
 * (plugin-faults.ts), so no frame of the gateway's was left half-way. A rejection unwound nothing
 * at all. What the error leaves half-done is the plugin's own state; its later hooks stay guarded
 * as every hook is (a throw there is that request's named 500).
 */
import { inspect } from 'node:util';
import { thrownText } from '../../core/thrown-text.ts';
import type { Logger } from '../../observe/log/logger.ts';
import type { GatewayMetrics } from '../../observe/metrics/metrics.ts';
import { asGateway } from '../../proxy/stages/plugin-scope.ts';
import { pluginBehind } from '../gateway/plugin-faults.ts';

/** Handles the worker's errors nothing caught from now on; the function returned stops it. */
export function handleUncaught(logger: Logger, metrics?: GatewayMetrics): () => void {
  const onUncaught = (err: unknown, origin: NodeJS.UncaughtExceptionOrigin): void => {
    const { message, stack } = thrownText(err);
    const plugin = pluginBehind(err, origin === 'uncaughtException');
    if (plugin !== undefined) {
      logger.error(
        { plugin: plugin.plugin, module: plugin.module, handed: plugin.handed, err: message, stack, origin },
        "a plugin's error nothing caught (a timer it set, a promise it left): the worker goes on",
      );
      // Counted as its hooks' failures are: an alert on /metrics sees a plugin failing in its
      // timers as well as one failing in its hooks (the log line alone was all there was).
      metrics?.pluginUncaught(plugin.plugin);
      return;
    }
    // A crash ends the worker at once, its connections cut with it: the log says so, with the
    // error, rather than leaving only Node's lines on stderr (the line is queued here; the exit
    // handler of log-writers.ts writes it).
    logger.fatal(
      { err: message, stack, origin },
      'worker crashed: its connections were cut, the requests in flight on them without their log lines',
    );
    // Node's own end of an error nothing caught, which a listener takes over: the error on
    // stderr, exit code 1. The gateway's exit, outside the scope of the plugin whose timer or
    // promise may have raised it: there, the guard against a plugin's exit would refuse it.
    process.stderr.write(`${inspect(err)}\n`);
    asGateway(() => process.exit(1));
  };
  process.on('uncaughtException', onUncaught);
  return () => process.off('uncaughtException', onUncaught);
}
