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

/** At most this many of a plugin's errors wait for the log while the worker starts. */
const WAITING_AT_START = 100;

/**
 * Handles the worker's errors nothing caught from now on. Installed before the gateway starts:
 * a plugin's module top-level code and its factory run in the start, and an error they leave
 * (a rejection, a timer that throws) is the plugin's as one its hooks leave later (it ended the
 * worker, and each replacement alike: the gateway never served). Its lines wait for the
 * gateway's logger (`logTo`); a start that fails writes them to stderr with its own refusal.
 */
export function handleUncaught(metrics?: GatewayMetrics): {
  logTo(logger: Logger): void;
  /** The lines of the plugins' errors that waited while no logger was given, as text (a failed start's stderr). */
  waited(): string;
  stop(): void;
} {
  let logger: Logger | undefined;
  const waiting: [Record<string, unknown>, string][] = [];
  const onUncaught = (err: unknown, origin: NodeJS.UncaughtExceptionOrigin): void => {
    const { message, stack } = thrownText(err);
    const plugin = pluginBehind(err, origin === 'uncaughtException');
    if (plugin !== undefined) {
      const fields = {
        plugin: plugin.plugin,
        module: plugin.module,
        handed: plugin.handed,
        err: message,
        stack,
        origin,
      };
      const msg = "a plugin's error nothing caught (a timer it set, a promise it left): the worker goes on";
      if (logger !== undefined) logger.error(fields, msg);
      else if (waiting.length < WAITING_AT_START) waiting.push([fields, msg]);
      // Counted as its hooks' failures are: an alert on /metrics sees a plugin failing in its
      // timers as well as one failing in its hooks (the log line alone was all there was).
      metrics?.pluginUncaught(plugin.plugin);
      return;
    }
    // A crash ends the worker at once, its connections cut with it: the log says so, with the
    // error, rather than leaving only Node's lines on stderr (the line is queued here; the exit
    // handler of log-writers.ts writes it).
    logger?.fatal(
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
  return {
    logTo(given) {
      logger = given;
      for (const [fields, msg] of waiting.splice(0)) given.error(fields, msg);
    },
    waited: () => waiting.map(([fields, msg]) => `${msg}: plugin ${fields.plugin}: ${fields.err}\n`).join(''),
    stop: () => process.off('uncaughtException', onUncaught),
  };
}
