/**
 * The parts of prom-client Candor uses, each loaded from its own file. The package's index
 * loads all of it: the Pushgateway (and with it node:http, node:https and node:zlib), the
 * default process metrics and, for exemplars, @opentelemetry/api, in every worker that only
 * counts. Types come from the package's own declarations.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

const require = createRequire(import.meta.url);

export const Registry: typeof Prom.Registry = require('prom-client/lib/registry');
export type Registry = Prom.Registry;
export const Counter: typeof Prom.Counter = require('prom-client/lib/counter');
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge');
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram: typeof Prom.Histogram = require('prom-client/lib/histogram');
export type Histogram<T extends string = string> = Prom.Histogram<T>;
export const AggregatorRegistry: typeof Prom.AggregatorRegistry = require('prom-client/lib/cluster');
export type AggregatorRegistry<T extends Prom.RegistryContentType> = Prom.AggregatorRegistry<T>;
