// A tiny Serverless Framework plugin: osls (the open v3 line) has no built-in TypeScript build,
// so this runs scripts/build.mjs (esbuild) before packaging, deploying and invoking locally.
'use strict';

class BuildPlugin {
  constructor(serverless, options, { log } = {}) {
    this.log = log;
    const build = () => this.build();
    this.hooks = {
      'before:package:createDeploymentArtifacts': build,
      'before:deploy:function:packageFunction': build,
      'before:invoke:local:invoke': async () => {
        await build();
        this.sourceMapsAsLambda();
      },
    };
  }

  async build() {
    const { build } = await import('./build.mjs');
    const written = await build();
    if (this.log) this.log.notice(`esbuild: ${written.length} bundle(s) in dist/`);
  }

  /**
   * `invoke local` runs the handler inside this process, whose NODE_OPTIONS were read at its start,
   * before the function's environment (serverless.yml, -e) was loaded into process.env by now. Lambda
   * starts node with that environment: so that errors read here as they do there, turn on what
   * NODE_OPTIONS=--enable-source-maps turns on, for the handler's bundle, which is loaded after this.
   */
  sourceMapsAsLambda() {
    const nodeOptions = (process.env.NODE_OPTIONS || '').split(/\s+/);
    if (nodeOptions.includes('--enable-source-maps') && typeof process.setSourceMapsEnabled === 'function') {
      process.setSourceMapsEnabled(true);
    }
  }
}

module.exports = BuildPlugin;
