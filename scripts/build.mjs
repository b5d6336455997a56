// Bundles each entry point into one CommonJS file under dist/ (esbuild; `tsc --noEmit` type-checks separately),
// with its source map beside it. Used by `npm run build` and by the Serverless plugin before package /
// invoke local.
import { build as esbuild } from 'esbuild';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ownSourcesMap } from './source-map.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const entries = {
  'renew/handler': 'functions/renew/handler.ts',
  'renew/worker': 'functions/renew/worker.ts',
  'sync-agent': 'functions/sync/agent.ts',
};

/**
 * A module whose every use throws naming it, but which can be required (and its interop fields
 * read) without effect; `kept` are the properties a dependency touches while it loads.
 */
const throwingModule = (name, kept = '{}') => `const kept = ${kept}; module.exports = new Proxy(kept, { get(target, property) {
  if (property in target || typeof property === 'symbol' || property === '__esModule' || property === 'default' || property === 'then') return target[property];
  throw new Error('${name}.' + String(property) + ' is not in the renew bundle (scripts/build.mjs)');
} });`;

/**
 * Modules a bundle pulls in through a dependency's index but never runs, replaced by a stub that
 * throws if it ever is (so a change that starts using one fails loudly in the tests that run the
 * bundles, not quietly in Lambda). For the cold start (issue 12): acme-client's index exports its
 * node-forge helpers (`acme.forge`, 300 KB).
 */
export const renewUnused = {
  // acme-client's crypto module loads @peculiar/x509 (with asn1js, reflect-metadata, tsyringe: a
  // quarter of the bundle and 60 ms of every ordering cold start) for CSRs and PEM reading. Renew
  // makes its CSRs with node's crypto (core/keys.ts) and sends them itself (acme-issuer.ts
  // sendCsr); the only use while acme-client loads is setting x509's crypto provider.
  '@peculiar/x509': throwingModule('@peculiar/x509', '{ cryptoProvider: { set() {} } }'),
  asn1js: throwingModule('asn1js'),
  'node-forge': "const unused = () => { throw new Error('node-forge is not in the renew bundle (scripts/build.mjs)'); }; module.exports = { pki: { rsa: { generateKeyPair: unused } }, pem: { decode: unused } };",
  // acme-client sends its requests through axios's `request`, which the issuer replaces with its own
  // transport (functions/adapters/acme-transport.ts): axios (a quarter of the bundle with
  // follow-redirects, and a few ms of CPU per request) never runs. What acme-client touches while
  // it loads is kept: `create()`, the instance's defaults and interceptors, `AxiosError`.
  axios: `const unused = () => { throw new Error('axios is not in the renew bundle (scripts/build.mjs): requests to the CA go through adapters/acme-transport.ts'); };
class AxiosError extends Error {}
const create = () => Object.assign(unused, { defaults: { headers: { common: {} } }, interceptors: { request: { use() {} }, response: { use() {} } }, request: unused, get: unused, head: unused, post: unused });
module.exports = { create, AxiosError, default: { create, AxiosError } };`,
  // acme-client's logger, which the issuer replaces (acme.setLogger) before any request.
  debug: 'module.exports = () => Object.assign(() => undefined, { enabled: false });',
  // Lambda hands the function its role's credentials in the environment, always: the default
  // chain's SSO, web identity, ECS and instance-metadata providers (65 KB, with their STS and SSO
  // clients) never run there.
  '@aws-sdk/credential-provider-node': "const { fromEnv } = require('@aws-sdk/credential-provider-env'); exports.defaultProvider = (init) => fromEnv(init);",
};
const unused = { 'renew/handler': renewUnused, 'renew/worker': renewUnused };

/** The esbuild plugin that puts the stubs `modules` (name → source) in place of those modules. */
export function stubs(modules) {
  const names = Object.keys(modules);
  return {
    name: 'unused-modules',
    setup(builder) {
      if (names.length === 0) return;
      const filter = new RegExp(`^(${names.map((name) => name.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|')})$`);
      builder.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'unused' }));
      builder.onLoad({ filter: /.*/, namespace: 'unused' }, (args) => ({ contents: modules[args.path], loader: 'js', resolveDir: root }));
    },
  };
}

/** How every bundle is made (also the bench's, scripts/bench/aws-client.ts, which bundles as the function is). */
export const bundleOptions = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  // Errors keep their class names (VerificationError, not Nm).
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The AWS SDK's ES modules, which esbuild can tree-shake (its CommonJS build brings every
  // command's serializer along: 220 KB of SSM for the two commands renew sends).
  mainFields: ['module', 'main'],
  legalComments: 'none',
  logLevel: 'warning',
};

/**
 * Builds every entry that exists into dist/<name>.js and dist/<name>.js.map; returns the paths
 * written. Errors read as they do in the sources: classes keep their names (errorType
 * `ConfigurationError`, not `lo`), and, with node's --enable-source-maps (NODE_OPTIONS in Lambda,
 * the agent's acme-sync wrapper), stack frames point into the .ts files. The map is a separate file
 * (the bundle only names it, so its size is unchanged) and holds mappings only, not the sources,
 * and only those of this repository's code (scripts/source-map.mjs: node parses the map as it
 * loads the bundle).
 */
export async function build({ minify = true } = {}) {
  const { existsSync } = await import('node:fs');
  const written = [];
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  for (const [name, source] of Object.entries(entries)) {
    if (!existsSync(join(root, source))) continue;
    const outfile = join(root, 'dist', `${name}.js`);
    await esbuild({
      ...bundleOptions,
      entryPoints: [source],
      outfile,
      minify,
      define: { AGENT_VERSION: JSON.stringify(version) },
      plugins: [stubs(unused[name] ?? {})],
    });
    await writeFile(`${outfile}.map`, ownSourcesMap(await readFile(`${outfile}.map`, 'utf8')));
    written.push(outfile);
  }
  // dist/ holds CommonJS bundles while the repository is an ES module package.
  await mkdir(join(root, 'dist'), { recursive: true });
  await writeFile(join(root, 'dist', 'package.json'), '{ "type": "commonjs" }\n');
  // dist/host/: everything a web host needs, to copy there whole and install with install.sh.
  const host = join(root, 'dist', 'host');
  await rm(host, { recursive: true, force: true });
  await cp(join(root, 'infra', 'host'), host, { recursive: true });
  await cp(join(root, 'dist', 'sync-agent.js'), join(host, 'sync-agent.js'));
  await writeFile(join(host, 'sync-agent.js.map'), relocatedMap(await readFile(join(root, 'dist', 'sync-agent.js.map'), 'utf8')));
  await cp(join(root, 'infra', 'letsencrypt-staging-roots.pem'), join(host, 'letsencrypt-staging-roots.pem'));
  written.push(host);
  return written;
}

/**
 * Returns a map of dist/ for a bundle copied elsewhere (the host's /opt/acme-sync/): its sources
 * named from the bundle's directory (functions/sync/agent.ts), not by a way up to this repository.
 */
function relocatedMap(text) {
  const map = JSON.parse(text);
  return JSON.stringify({ ...map, sources: map.sources.map((source) => source.replace(/^(\.\.\/)+/, '')) });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const written = await build();
  for (const file of written) console.log(`built ${file.slice(root.length + 1)}`);
}
