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
      'before:invoke:local:invoke': build,
    };
  }

  async build() {
    const { build } = await import('./build.mjs');
    const written = await build();
    if (this.log) this.log.notice(`esbuild: ${written.length} bundle(s) in dist/`);
  }
}

module.exports = BuildPlugin;
