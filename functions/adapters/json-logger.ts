/**
 * One JSON line per event, with the domain and step; PEM blocks are redacted from every string
 * field, so a private key can never reach the log even by accident.
 */

import { redactPem } from '../core/errors.js';
import type { LogFields, Logger } from '../workflows/ports.js';

/** Returns a logger writing JSON lines through `write` (console.log in Lambda, where each line becomes a log event). */
export function createJsonLogger(write: (line: string) => void, base: LogFields = {}): Logger {
  return (level, message, fields = {}) => {
    // Redact the serialized line: nested objects, arrays and errors are covered too.
    write(redactPem(JSON.stringify({ level, message, ...base, ...fields })));
  };
}
