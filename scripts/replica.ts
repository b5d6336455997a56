/**
 * The local replica of everything the system talks to: moto (S3, SSM), Pebble (ACME) with
 * challtestsrv (DNS), and nginx under s6.
 *
 *   node --import tsx scripts/replica.ts start|stop|status
 *
 * `start` honours PEBBLE_WFE_NONCEREJECT (percentage of nonces Pebble rejects; default 0), and says
 * each phase with the seconds since the start (also kept in .replica/start.log).
 */
import { replicaStatus, startReplica, stopReplica } from './replica/lifecycle.js';
import { createProgress } from './replica/progress.js';

/** Returns PEBBLE_WFE_NONCEREJECT as a percentage; 0 (no rejected nonces, fastest) when unset. */
function nonceRejectPercent(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const percent = Number(value);
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new Error(`PEBBLE_WFE_NONCEREJECT: expected an integer from 0 to 100, got ${JSON.stringify(value)}`);
  }
  return percent;
}

async function main(command: string | undefined): Promise<void> {
  switch (command) {
    case 'start': {
      const state = await startReplica(nonceRejectPercent(process.env.PEBBLE_WFE_NONCEREJECT));
      console.log(`  ACME directory  ${state.acme.directoryUrl} (NODE_EXTRA_CA_CERTS=${state.acme.apiCaFile})`);
      console.log(`  AWS endpoint    ${state.awsEndpoint} buckets ${state.buckets.certificates} ${state.buckets.challenges}`);
      console.log(`  nginx           http 127.0.0.1:${state.nginx.httpPort} https 127.0.0.1:${state.nginx.httpsPort}`);
      return;
    }
    case 'stop': {
      const progress = createProgress({ prefix: 'replica' });
      const stopped = await stopReplica(progress).finally(() => progress.end());
      if (stopped) progress.say('stopped');
      else console.log('replica: not running');
      return;
    }
    case 'status': {
      const status = replicaStatus();
      if (!status) {
        console.log('replica: not running');
        return;
      }
      console.log(JSON.stringify(status.state, null, 2));
      for (const [name, alive] of Object.entries(status.alive)) console.log(`${name}: ${alive ? 'running' : 'NOT RUNNING'}`);
      if (Object.values(status.alive).includes(false)) process.exitCode = 1;
      return;
    }
    default:
      console.error('usage: node --import tsx scripts/replica.ts start|stop|status');
      process.exitCode = 2;
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(`replica: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
