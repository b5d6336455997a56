/**
 * A renewal run in a process of its own, to be killed mid-renewal by a test:
 *   node --import tsx test/helpers/renew-child.ts <certificates bucket> <domain>
 * Prints its run id first, then renews the domain (forced) on the local replica.
 */

import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { createJsonLogger } from '../../functions/adapters/json-logger.js';
import { readRenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext } from '../../functions/renew/wiring.js';
import { renewAll } from '../../functions/workflows/renew-all.js';
import { renewEnvironment } from '../../scripts/replica/renew-env.js';
import { replicaState, s3Client, ssmClient } from './replica-clients.js';

const [bucket, domain] = process.argv.slice(2) as [string, string];
const state = replicaState();
const config = readRenewConfig({ ...renewEnvironment(state), CERTIFICATES_BUCKET: bucket }, rootCertificates);
const runId = `child-${randomUUID()}`;
process.stdout.write(`${runId}\n`);
const context = buildRenewalContext(config, { s3: s3Client(state), ssm: ssmClient(state) }, createJsonLogger(() => undefined), runId);
await renewAll({ domains: [domain], force: true }, context, 1);
