/**
 * Where `acme-certs` works: a deployed stage, found by its CloudFormation stack
 * (`acme-certificates-<stage>`: its outputs, and the renew function's own settings), or the local
 * replica (`--stage local`: the same stack, deployed into the replica's moto, with the replica's
 * ports and credentials). The local stage never reaches real AWS: every client gets the replica's
 * endpoint and its dummy credentials, whatever the environment or ~/.aws say.
 */

import { readFileSync } from 'node:fs';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { CloudFormationClient, DescribeStacksCommand, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { describeError } from '../core/errors.js';
// The replica's state and settings: the CLI runs from the repository, where the replica lives.
import { renewEnvironment } from '../../scripts/replica/renew-env.js';
import { findReplicaState, type ReplicaState } from '../../scripts/replica/state.js';

/** A stage that cannot be used: the message names it and says why. */
export class StageError extends Error {
  override readonly name = 'StageError';
}

export interface Stage {
  name: string;
  local: boolean;
  region: string;
  /** What every AWS client of this stage is built with. */
  clientConfig: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string }; forcePathStyle?: boolean };
  stackName: string;
  outputs: Record<string, string>;
  functionName: string;
  functionTimeoutS: number;
  /** The renew function's environment as deployed (for the local stage, with the replica's ports). */
  renewEnv: Record<string, string>;
  /** The CA a dry run uses, and the roots it trusts (null: the stage's own). */
  dryRun: { directoryUrl: string; rootsPem: string | null };
  replica: ReplicaState | null;
  /** Where the stage's AWS requests go when not to AWS itself (AWS_ENDPOINT_URL), for a deployed stage; null otherwise. */
  endpointOverride: string | null;
}

const SERVICE = 'acme-certificates';
const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** Returns the replica's state, or throws StageError saying how to start it. */
export function localReplica(): ReplicaState {
  const state = findReplicaState();
  if (!state) throw new StageError('stage local: the local replica is not running (no .replica/state.json); start it with npm run replica:start');
  return state;
}

/** Resolves `stage` (its stack, outputs and function); throws StageError naming what is missing. */
export async function resolveStage(name: string, regionFlag: string | null, stagingRootsPem: string): Promise<Stage> {
  const local = name === 'local';
  const replica = local ? localReplica() : null;
  const region = replica?.region ?? regionFlag ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const clientConfig: Stage['clientConfig'] = replica
    ? { region, endpoint: replica.awsEndpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true }
    : { region };
  if (replica) trustReplicaCa(replica);
  // The SDK honours AWS_ENDPOINT_URL for every client: after `eval "$(acme-certs env --stage local)"`
  // a deployed stage would be looked up in the replica. Every message says where it looked.
  const endpoint = replica ? null : process.env.AWS_ENDPOINT_URL?.trim() || null;
  const where = replica ? `the local replica (moto at ${replica.awsEndpoint})` : endpoint ? `region ${region} at ${endpoint} (AWS_ENDPOINT_URL is set: not AWS itself)` : `region ${region}`;
  const stackName = `${SERVICE}-${name}`;
  const cloudFormation = new CloudFormationClient({ ...clientConfig, maxAttempts: 2 });
  const stack = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })).catch((error: unknown) => {
    const message = describeError(error);
    if (/does not exist/i.test(message)) throw new StageError(`stage ${name}: no stack ${stackName} in ${where}; deploy it with npx serverless deploy --stage ${name}`);
    throw new StageError(`stage ${name}: cannot read stack ${stackName} in ${where}: ${message}${replica ? ' (is the replica running? npm run replica:start)' : ''}`);
  });
  const outputs = Object.fromEntries((stack.Stacks?.[0]?.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue !== undefined ? [[output.OutputKey, output.OutputValue]] : [])));
  const functionName = await renewFunctionOf(cloudFormation, stackName).catch((error: unknown) => {
    throw new StageError(`stage ${name}: cannot list the resources of stack ${stackName}: ${describeError(error)}`);
  });
  if (!functionName) throw new StageError(`stage ${name}: stack ${stackName} has no renew function (RenewLambdaFunction)`);
  const lambda = new LambdaClient({ ...clientConfig, maxAttempts: 2 });
  const fn = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName })).catch((error: unknown) => {
    throw new StageError(`stage ${name}: cannot read the settings of function ${functionName}: ${describeError(error)}`);
  });
  const deployed = { ...(fn.Environment?.Variables ?? {}) };
  const renewEnv = replica ? { ...deployed, ...renewEnvironment(replica), AWS_ENDPOINT_URL: replica.awsEndpoint } : deployed;
  return {
    name,
    local,
    region,
    clientConfig,
    stackName,
    outputs,
    functionName,
    functionTimeoutS: fn.Timeout ?? 900,
    renewEnv,
    // Pebble is the replica's only CA; a deployed stage's dry run goes to Let's Encrypt staging.
    dryRun: replica ? { directoryUrl: replica.acme.directoryUrl, rootsPem: null } : { directoryUrl: LETS_ENCRYPT_STAGING, rootsPem: stagingRootsPem },
    replica,
    endpointOverride: endpoint,
  };
}

/** Returns the physical name of the stack's renew function (ListStackResources: moto has no DescribeStackResource), or null. */
async function renewFunctionOf(cloudFormation: CloudFormationClient, stackName: string): Promise<string | null> {
  for await (const page of paginateListStackResources({ client: cloudFormation }, { StackName: stackName })) {
    const resource = page.StackResourceSummaries?.find((item) => item.LogicalResourceId === 'RenewLambdaFunction');
    if (resource?.PhysicalResourceId) return resource.PhysicalResourceId;
  }
  return null;
}

/** The replica's Pebble answers over HTTPS with a certificate of its own CA: trust it, in this process only. */
function trustReplicaCa(replica: ReplicaState): void {
  https.globalAgent.options.ca = [...rootCertificates, readFileSync(replica.acme.apiCaFile, 'utf8')];
}

/** Returns the shell exports that make `aws`, `serverless invoke local --stage local` and the tests reach the replica. */
export function replicaExports(replica: ReplicaState): string {
  const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
  const env = renewEnvironment(replica);
  const lines = [
    '# The local replica: paste into a shell, or eval "$(acme-certs env --stage local)"',
    'unset AWS_PROFILE AWS_SESSION_TOKEN',
    `export AWS_ENDPOINT_URL=${quote(replica.awsEndpoint)}`,
    "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
    `export AWS_REGION=${replica.region} AWS_DEFAULT_REGION=${replica.region}`,
    'export AWS_EC2_METADATA_DISABLED=true AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true SLS_TELEMETRY_DISABLED=1',
    `export NODE_EXTRA_CA_CERTS=${quote(replica.acme.apiCaFile)}`,
    ...Object.entries(env).map(([key, value]) => `export ${key}=${quote(value)}`),
    '# The replica\'s web host, for the sync agent (dist/sync-agent.js)',
    `export REPLICA_CERTS_DIR=${quote(replica.nginx.certsDir)} REPLICA_NGINX_CONF=${quote(replica.nginx.confFile)} REPLICA_NGINX_SERVICE=${quote(replica.nginx.serviceDir)}`,
    `export REPLICA_TLS_ADDRESS=127.0.0.1:${replica.nginx.httpsPort} REPLICA_PEBBLE_ROOT=${quote(replica.acme.rootsFile)}`,
  ];
  return `${lines.join('\n')}\n`;
}
