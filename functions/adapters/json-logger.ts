/**
 * One JSON line per event, with the domain and step; PEM blocks are redacted from every string
 * field, so a private key can never reach the log even by accident.
 */

import { redactPem } from '../core/errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;
export type Logger = (level: LogLevel, message: string, fields?: LogFields) => void;

/** Returns a logger writing JSON lines through `write` (console.log in Lambda, where each line becomes a log event). */
export function createJsonLogger(write: (line: string) => void, base: LogFields = {}): Logger {
  return (level, message, fields = {}) => {
    write(JSON.stringify({ level, message: redactPem(message), ...base, ...redactFields(fields) }));
  };
}

function redactFields(fields: LogFields): LogFields {
  const result: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    result[key] = typeof value === 'string' ? redactPem(value) : value;
  }
  return result;
}
