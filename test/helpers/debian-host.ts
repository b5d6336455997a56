/**
 * A web host of the test's own, as a user has one: this machine's own Debian system (with the
 * Debian packages nginx, s6 and node installed, and nginx's stock configuration), seen copy-on-write
 * through an overlay whose writes go to a tmpfs, in a network namespace of its own so that its
 * nginx listens on the real ports 80 and 443 (IPv4 and IPv6). /run and /tmp start empty, as after a
 * boot (with /run/lock, which Debian's boot makes), and the repository is hidden: the host has only
 * what is copied into it. Commands run in it as root through nsenter, with exactly the environment
 * the test gives (cron's, a root login's), no terminal and no stdin.
 *
 * What cannot run here is named where it matters: systemd is not PID 1 in this sandbox, so a unit's
 * ExecStart is started the way systemd would start it (startService); the host reaches the
 * replica's S3 (moto, on 127.0.0.1) through a forwarder at the near end of its veth pair.
 *
 * Requires root (namespaces, mounts). Everything is torn down when the test ends: the processes in
 * the namespace, the namespace, and with its last process the mounts and the tmpfs.
 */

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, openSync, closeSync, readdirSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTestHost, TEST_HOST_PREFIX } from '../../scripts/replica/test-hosts.js';
import { tempDir } from './temp.js';

/** What Debian's cron gives a job of root's (cron(8): SHELL, PATH, HOME and LOGNAME; no terminal, no stdin). */
export const CRON_ENV = { SHELL: '/bin/sh', PATH: '/usr/bin:/bin', HOME: '/root', LOGNAME: 'root' };
/** What a root login shell (or sudo's secure_path) has: the environment of the README's commands. */
export const ROOT_SHELL_ENV = { SHELL: '/bin/sh', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LOGNAME: 'root', USER: 'root', TERM: 'dumb' };
/** What systemd gives a system service (its default PATH, nothing else that matters here). */
export const SYSTEMD_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface DebianHost {
  /** The host's root as this process sees it (through /proc/<pid>/root): read its files here. */
  root: string;
  /** The address of this machine as the host sees it (the near end of the veth pair). */
  gateway: string;
  /** Makes 127.0.0.1:`port` of this machine reachable from the host at `gateway`:`port`; returns that address. */
  forward(port: number): Promise<string>;
  /** Copies a directory or file of this machine into the host (as a user copies files to a server). */
  copyIn(from: string, to: string): void;
  /** Runs `command` with /bin/sh -c, as root, with exactly `env`, from HOME (or /). */
  run(command: string, env: Record<string, string>, timeoutMs?: number): Promise<CommandResult>;
  /** Starts a long-running process as a service manager would (own session, /dev/null stdin, output to a log). */
  startService(argv: string[], env: Record<string, string>): { process: ChildProcess; log: string };
}

/** Starts a host; it is torn down when the test `t` ends. */
export async function startDebianHost(t: TestContext): Promise<DebianHost> {
  if (process.getuid?.() !== 0) throw new Error('a Debian host for tests needs root (network namespace, overlay mount)');
  const id = randomBytes(3).toString('hex');
  const name = `${TEST_HOST_PREFIX}${id}`;
  const subnet = 1 + (parseInt(id, 16) % 250);
  const near = `ah${id}a`;
  const far = `ah${id}b`;
  const gateway = `10.213.${subnet}.1`;
  const forwarders: Server[] = [];
  const services: ChildProcess[] = [];
  const logs = tempDir('host-logs');

  t.after(async () => {
    await removeTestHost(name);
    for (const child of services) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(forwarders.map((server) => new Promise((resolve) => server.close(resolve))));
  });
  for (const argv of [
    ['netns', 'add', name],
    ['link', 'add', near, 'type', 'veth', 'peer', 'name', far],
    ['link', 'set', far, 'netns', name],
    ['addr', 'add', `${gateway}/30`, 'dev', near],
    ['link', 'set', near, 'up'],
    ['-n', name, 'addr', 'add', `10.213.${subnet}.2/30`, 'dev', far],
    ['-n', name, 'link', 'set', far, 'up'],
    ['-n', name, 'link', 'set', 'lo', 'up'],
    ['-n', name, 'route', 'add', 'default', 'via', gateway],
  ]) ip(argv);

  // The holder: a process whose mount namespace and root are the host's; everything else enters them.
  const boot = [
    'set -e',
    'mount -t tmpfs -o mode=0755 acme-host /mnt',
    'mkdir /mnt/upper /mnt/work /mnt/root',
    'mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work /mnt/root',
    'mount -t proc proc /mnt/root/proc',
    'mount --rbind /dev /mnt/root/dev',
    'mount --rbind /sys /mnt/root/sys',
    'mount -t tmpfs -o mode=0755 tmpfs /mnt/root/run',
    'mkdir -m 1777 /mnt/root/run/lock',
    'mount -t tmpfs -o mode=1777 tmpfs /mnt/root/tmp',
    'mount -t tmpfs -o mode=0755 tmpfs /mnt/root/work',
    'exec chroot /mnt/root /bin/sleep infinity',
  ].join('\n');
  const holder = spawn('ip', ['netns', 'exec', name, 'unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', boot], { stdio: ['ignore', 'ignore', 'pipe'] });
  services.push(holder);
  let bootErrors = '';
  holder.stderr?.on('data', (chunk: Buffer) => (bootErrors += chunk.toString()));
  const root = `/proc/${holder.pid}/root`;
  for (const deadline = Date.now() + 10_000; !(existsSync(`${root}/etc/debian_version`) && readdirSync(`${root}/work`).length === 0 && readdirSync(`${root}/run`).includes('lock')); ) {
    if (holder.exitCode !== null || Date.now() > deadline) throw new Error(`the test host did not boot: ${bootErrors || `exit ${holder.exitCode}`}`);
    await sleep(20);
  }
  const enter = ['--target', String(holder.pid), '--mount', '--net', '--root', '--wd'];

  return {
    root,
    gateway,
    async forward(port) {
      const server = createServer((client) => {
        const upstream = createConnection({ host: '127.0.0.1', port });
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      });
      forwarders.push(server);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, gateway, resolve));
      return `${gateway}:${port}`;
    },
    copyIn(from, to) {
      cpSync(from, join(root, to), { recursive: true });
    },
    run(command, env, timeoutMs = 120_000) {
      return new Promise((resolve) => {
        const child = spawn('nsenter', [...enter, '--', 'setsid', '--wait', 'env', '-i', '-C', env.HOME ?? '/', ...Object.entries(env).map(([key, value]) => `${key}=${value}`), '/bin/sh', '-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    },
    startService(argv, env) {
      const log = join(logs, `${argv[0]?.split('/').pop() ?? 'service'}-${services.length}.log`);
      const fd = openSync(log, 'a');
      try {
        const child = spawn('nsenter', [...enter, '--', 'setsid', 'env', '-i', ...Object.entries(env).map(([key, value]) => `${key}=${value}`), ...argv], { stdio: ['ignore', fd, fd] });
        services.push(child);
        return { process: child, log };
      } finally {
        closeSync(fd);
      }
    },
  };
}

function ip(argv: string[]): void {
  const result = spawnSync('ip', argv, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${argv.join(' ')}: ${result.stderr.trim() || `exit ${result.status}`}`);
}

/** Returns the serial nginx on the host serves for `name` on 127.0.0.1:443 (TLS with SNI), asked from inside the host; '' when none. */
export async function servedSerialIn(host: DebianHost, name: string): Promise<string> {
  const script = `const s=require('tls').connect({host:'127.0.0.1',port:443,servername:${JSON.stringify(name)},rejectUnauthorized:false},()=>{console.log(s.getPeerCertificate().serialNumber.toLowerCase());s.end()});s.on('error',()=>console.log(''))`;
  return (await host.run(`node -e "${script.replaceAll('"', '\\"')}"`, ROOT_SHELL_ENV)).stdout.trim();
}

/** Sends `method path` with Host `name` to nginx on the host at `address` port 80, from inside the host. */
export async function httpIn(host: DebianHost, address: string, name: string, path: string, method = 'GET'): Promise<{ status: number; location: string | undefined; body: string }> {
  const script = `const r=require('http').request({host:${JSON.stringify(address)},port:80,path:${JSON.stringify(path)},method:${JSON.stringify(method)},headers:{host:${JSON.stringify(name)}}},(res)=>{let b='';res.on('data',(c)=>b+=c);res.on('end',()=>console.log(JSON.stringify({status:res.statusCode,location:res.headers.location,body:b})))});r.end()`;
  const result = await host.run(`node -e "${script.replaceAll('"', '\\"')}"`, ROOT_SHELL_ENV);
  if (result.code !== 0) throw new Error(`${method} ${path} on the host: ${result.stderr}`);
  return JSON.parse(result.stdout) as { status: number; location: string | undefined; body: string };
}
