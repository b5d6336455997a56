/**
 * The port-80 challenge proxy reaching its origin over https: nginx verifies the origin's
 * certificate (proxy_ssl_verify against the CA bundle, for the origin's name, sent as SNI), as it
 * must for S3. The origin here is the replica's S3 behind a TLS server with a test CA's certificate;
 * the replica's DNS resolves every name to 127.0.0.1.
 */

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issue, newKey } from '../helpers/pki.js';
import { putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';
import { tempDir } from '../helpers/temp.js';
import { startTestNginx } from '../helpers/test-nginx.js';

const state = replicaState();
const day = 86_400_000;
const ca = issue({ commonName: 'Origin Test CA', ca: true, key: newKey(), notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + 30 * day) });
// The production origin's own name: the replica's DNS sends it to 127.0.0.1, and moto reads the
// path-style request as S3 does.
const originName = 's3.us-east-1.amazonaws.com';
const motoPort = Number(new URL(state.awsEndpoint).port);

/** A TLS server in front of the replica's S3 with a certificate for `name` from the test CA. */
async function tlsOrigin(t: TestContext, name: string): Promise<number> {
  const leaf = issue({ commonName: name, names: [name], ca: false, key: newKey(), issuer: ca, notBefore: new Date(Date.now() - day), notAfter: new Date(Date.now() + 30 * day), extKeyUsage: { serverAuth: true } });
  const server: Server = createServer({ key: leaf.key.pem, cert: `${leaf.pem}${ca.pem}` }, (socket) => {
    const upstream = createConnection({ host: '127.0.0.1', port: motoPort });
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

function get(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

async function publishedToken(): Promise<{ token: string; body: string }> {
  const token = uniqueLabel('tls').replace('-', '_');
  await putText(s3Client(state), state.buckets.challenges, `.well-known/acme-challenge/${token}`, `${token}.key-authorization`);
  return { token, body: `${token}.key-authorization` };
}

const caBundle = (() => {
  const file = join(tempDir('origin-ca'), 'ca.pem');
  writeFileSync(file, ca.pem);
  return file;
})();

const cases: { name: string; certificateFor: string; bundle: string; served: boolean }[] = [
  { name: 'serves a challenge from an origin whose certificate the CA bundle vouches for, for its name', certificateFor: originName, bundle: caBundle, served: true },
  { name: 'refuses an origin whose certificate the system CA bundle does not vouch for', certificateFor: originName, bundle: '/etc/ssl/certs/ca-certificates.crt', served: false },
  { name: 'refuses an origin whose certificate is for another name', certificateFor: 'elsewhere.example', bundle: caBundle, served: false },
];

for (const item of cases) {
  test(`challenge proxy over https: ${item.name}`, async (t) => {
    const port = await tlsOrigin(t, item.certificateFor);
    const nginx = await startTestNginx(t, state, { challengeOrigin: `https://${originName}:${port}/${state.buckets.challenges}`, caBundle: item.bundle });
    const { token, body } = await publishedToken();

    const answer = await get(nginx.httpPort, 'www.example.test', `/.well-known/acme-challenge/${token}`);

    if (item.served) assert.deepEqual(answer, { status: 200, body });
    else {
      assert.notEqual(answer.status, 200, `nginx must not pass the origin's answer on: ${answer.body}`);
      assert.match(readFileSync(nginx.logFile, 'utf8'), /upstream SSL certificate (verify error|does not match)/);
    }
  });
}
