/**
 * The CloudFormation template `serverless package` produces for a stage (and serverless params),
 * built once per test process into a temporary directory, offline (dummy credentials, no metadata or
 * account look-ups).
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
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
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

/**
 * Returns the packaged template of `stage` (production, staging or local), with `params` given as
 * `--param="name=value"` the way an operator deploys.
 */
export function packagedTemplate(stage: string, params: Record<string, string> = {}): Template {
  const paramOptions = Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
  const key = [stage, ...paramOptions].join(' ');
  const cached = templates.get(key);
  if (cached) return cached;
  const dir = tempDir(`acme-package-${stage}`);
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'offline', AWS_SECRET_ACCESS_KEY: 'offline', AWS_EC2_METADATA_DISABLED: 'true', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  delete env.AWS_ENDPOINT_URL;
  delete env.AWS_PROFILE;
  execFileSync('npx', ['--no-install', 'serverless', 'package', '--stage', stage, '--package', dir, ...paramOptions], { cwd: replicaRepoRoot, env, stdio: 'pipe', timeout: 120_000 });
  const template = JSON.parse(readFileSync(join(dir, templateFileName), 'utf8')) as Template;
  templates.set(key, template);
  return template;
}

/** Returns the logical ids of the resources CloudFormation creates for the given stack parameters (their Condition holds). */
export function createdResources(template: Template, parameters: Record<string, string>): string[] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Condition === undefined || evaluate(template, { Condition: resource.Condition }, parameters) === true)
    .map(([logicalId]) => logicalId);
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

/**
 * Returns every statement a role of the stack holds, for the given stack parameters: its inline
 * policies, and the policies of the stack's managed policies it attaches (ManagedPolicyArns: Ref).
 * Throws on a managed policy from outside the stack, whose statements the template cannot show.
 */
export function roleStatements(template: Template, logicalId: string, parameters: Record<string, string>): Statement[] {
  const role = template.Resources[logicalId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`template has no role ${logicalId}`);
  const { Policies = [], ManagedPolicyArns = [] } = role.Properties as { Policies?: { PolicyDocument: { Statement: Statement[] } }[]; ManagedPolicyArns?: unknown[] };
  const managed = ManagedPolicyArns.map((arn) => {
    const policy = template.Resources[(arn as { Ref?: string }).Ref ?? ''];
    if (policy?.Type !== 'AWS::IAM::ManagedPolicy') throw new Error(`${logicalId}: managed policy ${show(arn)} is not one of the stack's`);
    return (policy.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument;
  });
  const documents = [...Policies.map((policy) => policy.PolicyDocument), ...managed];
  return evaluate(template, documents.flatMap((document) => document.Statement), parameters) as Statement[];
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

/**
 * Evaluates the intrinsic functions of a template value the way CloudFormation would, for the given
 * parameter values: Ref (parameters, AWS::NoValue, pseudo parameters), Fn::GetAtt and Sub's
 * ${Resource.Attr} (as "<Resource>.<Attr>", readable in assertions), Condition, Fn::If, Fn::Equals,
 * Fn::Not, Fn::Join, Fn::Split, Fn::Sub, Fn::Select. Throws on anything else, so an untested intrinsic fails loudly.
 */
export function evaluate(template: Template, value: unknown, parameters: Record<string, string>): unknown {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012', 'AWS::URLSuffix': 'amazonaws.com' };
  const NO_VALUE = Symbol('AWS::NoValue');
  const parameter = (name: string): string | string[] => {
    const definition = template.Parameters?.[name] as { Type?: string; Default?: string } | undefined;
    const text = parameters[name] ?? definition?.Default ?? '';
    return definition?.Type === 'CommaDelimitedList' ? text.split(',') : text;
  };
  const reference = (name: string): unknown => {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in pseudo) return pseudo[name];
    if (template.Parameters && name in template.Parameters) return parameter(name);
    if (name in template.Resources) return name;
    throw new Error(`evaluate: Ref ${name}`);
  };
  const condition = (name: string): boolean => {
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new Error(`evaluate: no condition ${name}`);
    return run(definition) as boolean;
  };
  const substitute = (text: string, variables: Record<string, unknown>): string =>
    text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name.startsWith('!')) return `\${${name.slice(1)}}`; // ${!Literal}: written as it is
      if (name in variables) return String(variables[name]);
      if (name.includes('.')) return name;
      return String(reference(name));
    });
  const run = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(run).filter((item) => item !== NO_VALUE);
    if (node === null || typeof node !== 'object') return node;
    const entries = Object.entries(node);
    const [key, argument] = entries[0] ?? [];
    if (entries.length === 1 && key === 'Ref') return reference(argument as string);
    if (entries.length === 1 && key === 'Fn::GetAtt') return (argument as string[]).join('.');
    if (entries.length === 1 && key === 'Condition') return condition(argument as string);
    if (entries.length === 1 && key?.startsWith('Fn::')) {
      const args = argument as unknown[];
      switch (key) {
        case 'Fn::If': return run(condition(args[0] as string) ? args[1] : args[2]);
        case 'Fn::Equals': return JSON.stringify(run(args[0])) === JSON.stringify(run(args[1]));
        case 'Fn::Not': return run(args[0]) !== true;
        case 'Fn::Join': return (run(args[1]) as unknown[]).join(args[0] as string);
        case 'Fn::Split': return String(run(args[1])).split(args[0] as string);
        case 'Fn::Select': return (run(args[1]) as unknown[])[Number(run(args[0]))];
        case 'Fn::Sub': return typeof argument === 'string' ? substitute(argument, {}) : substitute(args[0] as string, run(args[1]) as Record<string, unknown>);
        default: throw new Error(`evaluate: ${key}`);
      }
    }
    return Object.fromEntries(entries.map(([name, item]) => [name, run(item)]).filter(([, item]) => item !== NO_VALUE));
  };
  return run(value);
}
