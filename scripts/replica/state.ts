import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Everything other code needs to talk to the running local replica; written once by `start`. */
export interface ReplicaState {
  /** Absolute path of the `.replica` state directory. */
  dir: string;
  region: 'us-east-1';
  /** moto endpoint, e.g. http://127.0.0.1:PORT (use with forcePathStyle and test/test credentials). */
  awsEndpoint: string;
  acme: {
    directoryUrl: string;
    managementUrl: string;
    /** PEM of the throw-away CA that signed Pebble's HTTPS certificate: use as NODE_EXTRA_CA_CERTS. */
    apiCaFile: string;
    /** PEM of Pebble's issuing root (new at every Pebble start). */
    rootsFile: string;
    intermediatesFile: string;
    /** PEBBLE_WFE_NONCEREJECT Pebble runs with: the percentage of valid nonces it rejects as bad. */
    nonceRejectPercent: number;
  };
  dns: {
    /** 127.0.0.1:PORT, UDP and TCP. */
    server: string;
    managementUrl: string;
  };
  nginx: {
    /** nginx's "port 80": Pebble validates HTTP-01 here. */
    httpPort: number;
    /** nginx's "port 443". */
    httpsPort: number;
    serviceDir: string;
    confFile: string;
    sitesDir: string;
    certsDir: string;
  };
  buckets: { certificates: string; challenges: string };
  /** SSM parameter name for the ACME account key; not created by the replica. */
  accountKeyParameter: string;
  /** The Serverless stack (stage `local`) deployed into moto: the same one `serverless deploy` makes for real. */
  stack?: {
    name: string;
    /** Where `serverless package` wrote the template and zip that were deployed. */
    packageDir: string;
    templateFile: string;
    /** The framework's output of the package and deploy steps. */
    logFile: string;
    /** The KMS alias the function passes as ACCOUNT_KEY_KMS_KEY_ID. */
    kmsKeyAlias: string;
    /**
     * The URLs of the fan-out queues the stack created (RenewQueue, RenewDeadLetterQueue), as
     * CloudFormation gives them (https://sqs.us-east-1.amazonaws.com/…): use them with a client
     * whose endpoint is `awsEndpoint`. No Lambda polls RenewQueue here: the stack's event source
     * mapping is disabled, and scripts/replica/event-source-mapping.ts does its work. Set once deployed.
     */
    queues?: { renew: string; deadLetter: string };
  };
  processes: { name: string; pid: number }[];
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the replica's state directory (`<repo>/.replica`). */
export const replicaDir = join(repoRoot, '.replica');

/** Absolute path of the repository root. */
export const replicaRepoRoot = repoRoot;

const stateFile = join(replicaDir, 'state.json');

/** Returns the state of the running replica; throws when the replica is not running. */
export function readReplicaState(): ReplicaState {
  if (!existsSync(stateFile)) {
    throw new Error('local replica is not running: run npm run replica:start');
  }
  return JSON.parse(readFileSync(stateFile, 'utf8')) as ReplicaState;
}

/** Returns the recorded state, or undefined when there is none. */
export function findReplicaState(): ReplicaState | undefined {
  return existsSync(stateFile) ? readReplicaState() : undefined;
}

export function writeReplicaState(state: ReplicaState): void {
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** Removes state.json; safe to call when it does not exist. */
export function removeReplicaState(): void {
  rmSync(stateFile, { force: true });
}
