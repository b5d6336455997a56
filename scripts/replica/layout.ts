import { join } from 'node:path';
import { replicaRepoRoot } from './state.js';

/** Every file path of the replica, under its state directory `dir`, and of the committed host templates. */
export function replicaLayout(dir: string) {
  return {
    logs: {
      moto: join(dir, 'moto.log'),
      dns: join(dir, 'dns.log'),
      pebble: join(dir, 'pebble.log'),
      nginx: join(dir, 'nginx.log'),
      stack: join(dir, 'stack-deploy.log'),
    },
    stackPackageDir: join(dir, 'stack'),
    pebble: {
      config: join(dir, 'pebble', 'pebble-config.json'),
      apiCaFile: join(dir, 'pebble', 'api-ca.pem'),
      apiCertificate: join(dir, 'pebble', 'api-server.pem'),
      apiPrivateKey: join(dir, 'pebble', 'api-server.key'),
      rootsFile: join(dir, 'pebble', 'roots.pem'),
      intermediatesFile: join(dir, 'pebble', 'intermediates.pem'),
    },
    nginx: {
      confFile: join(dir, 'nginx', 'nginx.conf'),
      challengeConfFile: join(dir, 'nginx', 'acme-challenge-server.conf'),
      challengeLocationsFile: join(dir, 'nginx', 'acme-challenge.conf'),
      pidFile: join(dir, 'nginx', 'nginx.pid'),
      accessLog: join(dir, 'nginx-access.log'),
      tempDir: join(dir, 'nginx', 'temp'),
      sitesDir: join(dir, 'nginx', 'sites'),
      documentRoot: join(dir, 'nginx', 'www'),
      certsDir: join(dir, 'certs'),
      serviceDir: join(dir, 'service', 'nginx'),
    },
  };
}

/** The committed host files that production installs and the replica renders. */
export const hostTemplates = {
  acmeChallenge: join(replicaRepoRoot, 'infra', 'host', 'nginx', 'acme-challenge.conf.template'),
  acmeChallengeServer: join(replicaRepoRoot, 'infra', 'host', 'nginx', 'acme-challenge-server.conf.template'),
  site: join(replicaRepoRoot, 'infra', 'host', 'nginx', 'site.conf.template'),
  s6NginxService: join(replicaRepoRoot, 'infra', 'host', 's6', 'nginx'),
};
