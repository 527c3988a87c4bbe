/** A plugin that does nothing on each request (bench/cost.ts --plugin): what the plugin door itself costs. */
export default () => ({
  onRequest() {},
});
