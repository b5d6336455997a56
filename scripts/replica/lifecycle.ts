import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { replicaLayout } from './layout.js';
import { startDns } from './dns.js';
import { startMoto } from './moto.js';
import { startNginx, stopNginx, testNginxConfig, writeNginxConfig } from './nginx.js';
import { startPebble } from './pebble.js';
import { pickFreePorts } from './ports.js';
import { isRunning, stopProcess, type ReplicaProcess } from './processes.js';
import { createProgress, type Progress } from './progress.js';
import { newBucketNames, provisionResources } from './provision.js';
import { localStackName, templateFileName } from './stack.js';
import { findReplicaState, removeReplicaState, replicaDir, replicaRepoRoot, writeReplicaState, type ReplicaState } from './state.js';
import { removeTestHost, testHostNamespaces } from './test-hosts.js';

/** What identifies each recorded process in /proc/<pid>/cmdline, so a reused pid is never signalled. */
const commandLineMarks: Record<string, string> = {
  moto: 'moto_server',
  dns: 'pebble-challtestsrv',
  pebble: 'pebble-config.json',
  's6-supervise': 's6-supervise',
};

/** The start's progress lines, kept beside state.json (test/integration/replica.test.ts reads them). */
export function startLogFile(dir: string): string {
  return join(dir, 'start.log');
}

/**
 * Installs or reports missing system binaries (scripts/ensure-system.sh) and Python tools
 * (scripts/python-tools.sh: when moto_server is not on the PATH, the project's venv provides it, and
 * its directory is put first on this process's PATH, which every child inherits); throws when any
 * is missing.
 */
function ensureSystem(): void {
  const system = spawnSync('bash', [join(replicaRepoRoot, 'scripts', 'ensure-system.sh')], { stdio: 'inherit' });
  if (system.status !== 0) throw new Error('local replica: required system binaries are missing (see above)');
  const tools = spawnSync('bash', [join(replicaRepoRoot, 'scripts', 'python-tools.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (tools.status !== 0) throw new Error('local replica: moto_server or cfn-lint is missing and could not be installed (see above)');
  const toolsPath = tools.stdout.trim();
  if (toolsPath) process.env.PATH = `${toolsPath}:${process.env.PATH ?? ''}`;
}

/** Waits for every promise; throws the first failure only after all have settled. */
async function settleAll<T extends unknown[]>(promises: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}

async function stopRecorded(dir: string, processes: { name: string; pid: number }[], progress?: Progress): Promise<void> {
  const layout = replicaLayout(dir);
  for (const { name, pid } of [...processes].reverse()) {
    if (name === 's6-supervise') await stopNginx(layout.nginx, pid);
    else await stopProcess(pid, commandLineMarks[name] ?? name);
    progress?.say(`${name === 's6-supervise' ? 'nginx' : name} stopped`);
  }
}

/**
 * Starts moto, challtestsrv (DNS), Pebble and nginx under s6 on free loopback ports, deploys the
 * Serverless stack into moto (while Pebble starts), and returns the recorded state once every
 * component answers. A running replica is stopped first. On failure every process started so far
 * is stopped again. Says each phase as it ends, and what is still running at least every 10 s.
 */
export async function startReplica(nonceRejectPercent: number, progress: Progress = createProgress({ prefix: 'replica' })): Promise<ReplicaState> {
  try {
    return await startReplicaWith(nonceRejectPercent, progress);
  } finally {
    progress.end();
  }
}

async function startReplicaWith(nonceRejectPercent: number, progress: Progress): Promise<ReplicaState> {
  ensureSystem();
  progress.say('system packages and Python tools present');
  if (findReplicaState()) {
    progress.say('already running: stopping it first');
    await stopReplica(progress);
  }
  rmSync(replicaDir, { recursive: true, force: true });
  const layout = replicaLayout(replicaDir);
  mkdirSync(dirname(layout.pebble.config), { recursive: true });

  const started: ReplicaProcess[] = [];
  const abort = (): void => {
    void stopRecorded(replicaDir, started).finally(() => process.exit(130));
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    const ports = await pickPorts();
    const { http: httpPort, https: httpsPort } = ports;
    const dnsServer = `127.0.0.1:${ports.dns}`;
    const [moto] = await settleAll([
      progress.phase('starting moto', `moto started on 127.0.0.1:${ports.moto}`, startMoto(ports.moto, layout.logs.moto, started)),
      progress.phase('starting the DNS server', `DNS (pebble-challtestsrv) started on ${dnsServer}`, startDns(ports.dns, ports.dnsManagement, layout.logs.dns, started)),
    ]);

    const state: ReplicaState = {
      dir: replicaDir,
      region: 'us-east-1',
      awsEndpoint: moto.endpoint,
      acme: {
        directoryUrl: '',
        managementUrl: '',
        apiCaFile: layout.pebble.apiCaFile,
        rootsFile: layout.pebble.rootsFile,
        intermediatesFile: layout.pebble.intermediatesFile,
        nonceRejectPercent,
      },
      dns: { server: dnsServer, managementUrl: `http://127.0.0.1:${ports.dnsManagement}` },
      nginx: {
        httpPort,
        httpsPort,
        serviceDir: layout.nginx.serviceDir,
        confFile: layout.nginx.confFile,
        sitesDir: layout.nginx.sitesDir,
        certsDir: layout.nginx.certsDir,
      },
      buckets: newBucketNames(),
      accountKeyParameter: '/acme-certificates/local/account-key',
      stack: {
        name: localStackName,
        packageDir: layout.stackPackageDir,
        templateFile: join(layout.stackPackageDir, templateFileName),
        logFile: layout.logs.stack,
        kmsKeyAlias: 'alias/acme-certificates-local',
      },
      processes: [],
    };
    progress.say('deploying the stack into moto (serverless package, then deploy) while Pebble starts');
    const [pebble] = await settleAll([
      progress.phase(
        'starting Pebble',
        `Pebble started on 127.0.0.1:${ports.acme}`,
        startPebble(layout.pebble, { api: ports.acme, management: ports.acmeManagement, http: httpPort, tls: httpsPort }, dnsServer, { nonceRejectPercent }, layout.logs.pebble, started),
      ),
      progress.phase('deploying the stack', `stack ${localStackName} deployed into moto`, provisionResources(state)),
    ]);
    state.acme.directoryUrl = pebble.directoryUrl;
    state.acme.managementUrl = pebble.managementUrl;

    writeNginxConfig(layout.nginx, { httpPort, httpsPort, awsEndpoint: state.awsEndpoint, challengeBucket: state.buckets.challenges, resolver: dnsServer });
    await testNginxConfig(layout.nginx);
    await progress.phase('starting nginx', `nginx started under s6 on 127.0.0.1:${httpPort} and ${httpsPort}`, startNginx(layout.nginx, httpPort, layout.logs.nginx, started));

    state.processes = started.map(({ name, pid }) => ({ name, pid }));
    writeReplicaState(state);
    progress.say(`ready: state in ${join(replicaDir, 'state.json')}`);
    writeFileSync(startLogFile(replicaDir), progress.lines.map((line) => `${line}\n`).join(''));
    return state;
  } catch (error) {
    await stopRecorded(replicaDir, started);
    throw error;
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

const portNames = ['moto', 'acme', 'acmeManagement', 'http', 'https', 'dns', 'dnsManagement'] as const;

/** Returns one free loopback port per component endpoint. */
async function pickPorts(): Promise<Record<(typeof portNames)[number], number>> {
  const ports = await pickFreePorts(portNames.length);
  return Object.fromEntries(portNames.map((name, i) => [name, ports[i]])) as Record<(typeof portNames)[number], number>;
}

/**
 * Stops exactly the processes recorded in state.json and removes it, and any test host a killed test
 * run left behind (its network namespace and processes). Safe to call twice.
 */
export async function stopReplica(progress?: Progress): Promise<boolean> {
  for (const name of testHostNamespaces()) await removeTestHost(name);
  const state = findReplicaState();
  if (!state) return false;
  await stopRecorded(state.dir, state.processes, progress);
  removeReplicaState();
  return true;
}

/** Returns each recorded process with whether it is alive, or undefined when nothing is recorded. */
export function replicaStatus(): { state: ReplicaState; alive: Record<string, boolean> } | undefined {
  const state = findReplicaState();
  if (!state) return undefined;
  const alive = Object.fromEntries(state.processes.map(({ name, pid }) => [name, isRunning(pid, commandLineMarks[name] ?? name)]));
  return { state, alive };
}
