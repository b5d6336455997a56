/**
 * The served-certificate check of the host agent's nginx control, against a real TLS server that
 * behaves like nginx during a reload: for a while after the new certificate is first served, some
 * connections still reach an old worker with the old one.
 */

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, createServer, type Server } from 'node:tls';
import { after, test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { NginxControl } from '../../functions/adapters/nginx-control.js';
import { issue, newKey, type TestCertificate } from '../helpers/pki.js';

const day = 86_400_000;
const key = newKey();
function certificate(): TestCertificate {
  const now = Date.now();
  return issue({ commonName: 'example.org', names: ['example.org'], ca: false, notBefore: new Date(now - day), notAfter: new Date(now + day), key });
}
const oldCertificate = certificate();
const newCertificate = certificate();
const serial = (item: TestCertificate) => new X509Certificate(item.pem).serialNumber.toLowerCase();

// confirmServed speaks TLS only: these tests fail if it ever ran a command.
const commands = { testCommand: ['nginx', '-T'], confDir: '/etc/nginx', reloadCommand: ['s6-svc', '-h', '/service/nginx'] };
const noCommands = async (argv: readonly string[]) => assert.fail(`confirmServed ran ${argv.join(' ')}`);

const servers: Server[] = [];
after(() => servers.forEach((server) => server.close()));

/** Starts a TLS server whose certificate, per connection, is what `pick(n, name)` returns for the n-th (from 0). */
async function server(pick: (connection: number, name: string) => TestCertificate): Promise<{ nginx: NginxControl; connections: () => number }> {
  let connections = 0;
  const tls = createServer({
    SNICallback: (name, done) => {
      const chosen = pick(connections++, name);
      done(null, createSecureContext({ key: chosen.key.pem, cert: chosen.pem }));
    },
    key: oldCertificate.key.pem,
    cert: oldCertificate.pem,
  });
  servers.push(tls);
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  const nginx = new NginxControl(noCommands, { ...commands, tlsHost: '127.0.0.1', tlsPort: (tls.address() as AddressInfo).port });
  return { nginx, connections: () => connections };
}

const expectNew = (name = 'example.org') => ({ name, serial: serial(newCertificate) });

test('reads the serial of the certificate served for a name', async () => {
  const { nginx } = await server(() => oldCertificate);
  assert.equal(await nginx.servedSerial('example.org'), serial(oldCertificate));
});

test('does not count a new serial as served when the old one is still served right after', async () => {
  // Connection 0 reaches a new worker, 1 and 2 an old one, and from then on the new ones.
  const { nginx } = await server((connection) => (connection === 0 || connection > 2 ? newCertificate : oldCertificate));

  assert.deepEqual(await nginx.confirmServed([expectNew()], 5000, 4, 50), [serial(newCertificate)]);
  assert.equal(await nginx.servedSerial('example.org'), serial(newCertificate), 'the next connection gets the new certificate');
});

test('returns the old serial at the deadline when the new one never settles', async () => {
  // Every other connection reaches an old worker.
  const { nginx } = await server((connection) => (connection % 2 === 0 ? newCertificate : oldCertificate));
  assert.deepEqual(await nginx.confirmServed([expectNew()], 600, 4, 50), [serial(oldCertificate)]);
});

test('returns null at the deadline when nothing answers TLS', async () => {
  const nginx = new NginxControl(noCommands, { ...commands, tlsHost: '127.0.0.1', tlsPort: 1 });
  assert.deepEqual(await nginx.confirmServed([expectNew()], 300, 4, 50), [null]);
});

test('confirms many names, asking each twice when all serve the new serial at once', async () => {
  const { nginx, connections } = await server(() => newCertificate);
  const names = Array.from({ length: 12 }, (_, index) => `n${index}.example.org`);

  const served = await nginx.confirmServed(names.map(expectNew), 5000, 4, 50);

  assert.deepEqual(served, names.map(() => serial(newCertificate)));
  assert.equal(connections(), 2 * names.length);
});

test('reports each name on its own: one served, one still on the old certificate', async () => {
  const { nginx } = await server((_connection, name) => (name === 'www.example.org' ? oldCertificate : newCertificate));
  assert.deepEqual(await nginx.confirmServed([expectNew(), expectNew('www.example.org')], 500, 4, 50), [serial(newCertificate), serial(oldCertificate)]);
});
