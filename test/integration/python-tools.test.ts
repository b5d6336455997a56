/**
 * scripts/python-tools.sh, the set-up of moto_server and cfn-lint on a fresh machine: the tools on
 * the PATH are used; missing ones come from a project-local venv, at pinned versions. Each test
 * gives the script a venv directory of its own (PYTHON_TOOLS_VENV), never the project's .venv-tools.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const script = join(repoRoot, 'scripts', 'python-tools.sh');
/** A PATH without moto_server and cfn-lint, as on a fresh Debian machine (python3 is /usr/bin's). */
const barePath = '/usr/bin:/bin';
const work = mkdtempSync(join(tmpdir(), 'python-tools-'));

after(() => rmSync(work, { recursive: true, force: true }));

function runScript(env: NodeJS.ProcessEnv) {
  return spawnSync('bash', [script], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
}

function onPath(tool: string, path: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${tool}`], { env: { ...process.env, PATH: path } }).status === 0;
}

/** A python of this machine that has moto and cfn-lint installed: what the stand-in venv sees. */
function pythonWithTools(): string {
  const scriptPython = (tool: string): string[] => {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (!found) return [];
    const shebang = readFileSync(realpathSync(found), 'utf8').split('\n')[0] ?? '';
    return shebang.startsWith('#!') && shebang.includes('python') ? [shebang.slice(2).trim()] : [];
  };
  const candidates = [...scriptPython('moto_server'), 'python3'];
  const python = candidates.find((candidate) => spawnSync(candidate, ['-c', 'import moto, cfnlint'], { env: process.env }).status === 0);
  assert.ok(python, `no python with moto and cfn-lint among ${candidates.join(', ')}`);
  return spawnSync(python, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim();
}

test('uses moto_server and cfn-lint from the PATH as they are, and makes no venv', () => {
  const venv = join(work, 'unused-venv');
  assert.ok(onPath('moto_server', process.env.PATH ?? '') && onPath('cfn-lint', process.env.PATH ?? ''), 'this machine has both tools on the PATH');

  const result = runScript({ PYTHON_TOOLS_VENV: venv });

  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(existsSync(venv), false);
});

test('without the tools on the PATH, installs them into the venv and, when pip cannot, names the step, the pinned versions and the index, and leaves nothing behind', () => {
  const venv = join(work, 'fresh-venv');
  assert.ok(!onPath('moto_server', barePath) && !onPath('cfn-lint', barePath), `${barePath} must not have the tools for this test`);
  const before = readdirSync(work);

  // The fault is forced: pip is pointed at a closed local port instead of PyPI (and the machine's
  // own pip configuration is set aside), so it fails the same way wherever this runs.
  const index = 'http://127.0.0.1:9/simple';
  const result = runScript({
    PATH: barePath,
    PYTHON_TOOLS_VENV: venv,
    PIP_INDEX_URL: index,
    PIP_EXTRA_INDEX_URL: '',
    PIP_FIND_LINKS: '',
    PIP_CONFIG_FILE: '/dev/null',
    PIP_RETRIES: '0',
  });

  assert.equal(result.status, 1, result.stderr);
  assert.equal(result.stdout, '', 'no directory offered for the PATH');
  assert.match(result.stderr, /set-up: creating the virtual environment .*: done \(\d+\.\d s\)/);
  assert.match(result.stderr, /python-tools: step 'pip install' failed: could not install moto\[server\]==5\.2\.1 cfn-lint==1\.51\.0/);
  assert.ok(result.stderr.includes(`from the index ${index} `), result.stderr);
  assert.deepEqual(readdirSync(work), before, 'the venv it made is removed again');
});

test('uses the tools of the venv when they are installed there, without pip', () => {
  // Stands in for a venv the script installed: --system-site-packages lends it this machine's moto
  // and cfn-lint (the pinned versions), and its bin/ gets the console scripts pip would write.
  const venv = join(work, 'installed-venv');
  const python = pythonWithTools();
  const made = spawnSync(python, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  for (const [tool, module] of [['moto_server', 'moto.server'], ['cfn-lint', 'cfnlint.runner']] as const) {
    writeFileSync(join(venv, 'bin', tool), `#!${join(venv, 'bin', 'python')}\nimport sys\nfrom ${module} import main\nsys.exit(main())\n`, { mode: 0o755 });
  }

  const result = runScript({ PATH: barePath, PYTHON_TOOLS_VENV: venv });

  assert.equal(result.status, 0, result.stderr);
  const links = result.stdout.trim();
  assert.equal(links, join(venv, 'path'));
  assert.doesNotMatch(result.stderr, /pip install/);
  assert.deepEqual(readdirSync(links).sort(), ['cfn-lint', 'moto_server'], 'only the tools, not the venv python');
  assert.equal(readlinkSync(join(links, 'moto_server')), join(venv, 'bin', 'moto_server'));
  const version = spawnSync('cfn-lint', ['--version'], { env: { ...process.env, PATH: `${links}:${barePath}` }, encoding: 'utf8' });
  assert.equal(version.stdout.trim(), 'cfn-lint 1.51.0', version.stderr);
});

test('a venv whose tool is not at the pinned version is installed again', () => {
  const venv = join(work, 'outdated-venv');
  const made = spawnSync('/usr/bin/python3', ['-m', 'venv', venv], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  // A cfn-lint script in the venv, but no cfn-lint distribution at 1.51.0 behind it.
  writeFileSync(join(venv, 'bin', 'cfn-lint'), '#!/bin/sh\necho cfn-lint 0.1\n', { mode: 0o755 });
  writeFileSync(join(venv, 'bin', 'moto_server'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });

  const result = runScript({ PATH: barePath, PYTHON_TOOLS_VENV: venv, PIP_INDEX_URL: 'http://127.0.0.1:9/simple', PIP_EXTRA_INDEX_URL: '', PIP_FIND_LINKS: '', PIP_CONFIG_FILE: '/dev/null', PIP_RETRIES: '0' });

  assert.equal(result.status, 1);
  assert.match(result.stderr, /python-tools: step 'pip install' failed/);
  assert.match(result.stderr, /installing moto\[server\]==5\.2\.1 cfn-lint==1\.51\.0 into /);
  assert.ok(existsSync(join(venv, 'bin', 'cfn-lint')), 'a venv it did not make is left in place');
});
