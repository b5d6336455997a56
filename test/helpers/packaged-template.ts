/**
 * The CloudFormation template `serverless package` produces for a stage, built once per test process
 * into a temporary directory, offline (dummy credentials, no metadata or account look-ups).
 */

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { replicaRepoRoot } from '../../scripts/replica/state.js';
import { templateFileName } from '../../scripts/replica/stack.js';
import { tempDir } from './temp.js';

export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface Template {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, { Default?: string }>;
  Outputs?: Record<string, unknown>;
}

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const templates = new Map<string, Template>();

/** Returns the packaged template of `stage` (production, staging or local). */
export function packagedTemplate(stage: string): Template {
  const cached = templates.get(stage);
  if (cached) return cached;
  const dir = tempDir(`acme-package-${stage}`);
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'offline', AWS_SECRET_ACCESS_KEY: 'offline', AWS_EC2_METADATA_DISABLED: 'true', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  delete env.AWS_ENDPOINT_URL;
  delete env.AWS_PROFILE;
  execFileSync('npx', ['--no-install', 'serverless', 'package', '--stage', stage, '--package', dir], { cwd: replicaRepoRoot, env, stdio: 'pipe', timeout: 120_000 });
  const template = JSON.parse(readFileSync(join(dir, templateFileName), 'utf8')) as Template;
  templates.set(stage, template);
  return template;
}

/** Returns the resources of `type`, by logical id. */
export function resourcesOfType(template: Template, type: string): Record<string, Resource> {
  return Object.fromEntries(Object.entries(template.Resources).filter(([, resource]) => resource.Type === type));
}

/** Returns `value` as a list (IAM accepts a string or a list for Action and Resource). */
export function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Returns a CloudFormation value as readable text: `{"Fn::Sub": "x"}` → `x`, GetAtt → `X.Arn`, Ref → `X`. */
export function show(value: unknown): string {
  if (typeof value === 'string') return value;
  const object = value as Record<string, unknown>;
  if (typeof object['Fn::Sub'] === 'string') return object['Fn::Sub'];
  if (Array.isArray(object['Fn::GetAtt'])) return (object['Fn::GetAtt'] as string[]).join('.');
  if (typeof object.Ref === 'string') return object.Ref;
  return JSON.stringify(value);
}

/** Returns each Allow statement as "action on resource" lines, sorted: the whole grant, comparable at a glance. */
export function grants(statements: Statement[]): string[] {
  return statements
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) => {
      const condition = statement.Condition ? ` if ${JSON.stringify(statement.Condition).replace(/\{"Fn::Sub":("[^"]*")\}/g, '$1')}` : '';
      return asList(statement.Action).flatMap((action) => asList(statement.Resource).map((resource) => `${action} on ${show(resource)}${condition}`));
    })
    .sort();
}
