/**
 * Runs a host command (argv, no shell) and returns its exit code and combined output.
 */

import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number;
  output: string;
}

export type CommandRunner = (argv: readonly string[]) => Promise<CommandResult>;

/** Returns a runner that gives each command `timeoutMs` to finish. */
export function createCommandRunner(timeoutMs: number): CommandRunner {
  return (argv) =>
    new Promise((resolve) => {
      const [command, ...args] = argv;
      if (!command) return resolve({ code: 127, output: 'empty command' });
      // nginx -T prints the whole configuration: about 0.5 KB per server block.
      execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (!error) return resolve({ code: 0, output });
        if (error.code === 'ENOENT') return resolve({ code: 127, output: `${command}: not found on PATH=${process.env.PATH ?? ''} (give its absolute path, or set PATH)` });
        const code = typeof error.code === 'number' ? error.code : 127;
        resolve({ code, output: output || error.message });
      });
    });
}

/** Splits a configured command line on whitespace (quotes are not interpreted: paths with spaces are not supported). */
export function splitCommand(line: string): string[] {
  return line.trim().split(/\s+/).filter(Boolean);
}
