/**
 * The schema of `plugins:` (users' own stages, by name) and of `routes[].plugins` (which of them
 * a route runs, in order). A plugin's `options` are its own: handed to it as written, checked by
 * the plugin's `validate` when it exports one (plugin-modules.ts), not by this schema.
 */
import { Type } from '@sinclair/typebox';
import { FORMAT, NAME_CHARS } from './formats.ts';
import { durationField, mapping, oneOf } from './schema-kit.ts';

const Plugin = mapping(
  {
    module: Type.String({
      minLength: 1,
      expected: 'a module: a path relative to this file (./plugins/ab.ts, .js, .mjs) or a package name',
    }),
    options: Type.Optional(Type.Unknown({ expected: 'the plugin’s own options, handed to it as written' })),
    timeout: durationField(),
    on_error: oneOf(['fail', 'continue']),
  },
  'a mapping with module, and options, timeout and/or on_error',
);

export const Plugins = Type.Optional(
  Type.Record(Type.String(), Plugin, {
    minProperties: 1,
    expected: 'a mapping of at least one plugin, by name',
  }),
);

/** `routes[].plugins`: the names of plugins the route runs, in the order they run. */
export const ROUTE_PLUGIN_FIELDS = {
  plugins: Type.Optional(
    Type.Array(Type.String({ format: FORMAT.name, expected: `a plugin name of ${NAME_CHARS}` }), {
      minItems: 1,
      expected: 'a list of plugin names, in the order they run',
    }),
  ),
};
