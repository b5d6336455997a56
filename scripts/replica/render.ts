/**
 * Returns `text` with every `${NAME}` placeholder replaced by `vars[NAME]`.
 * Throws when the text names a placeholder that `vars` does not define, so a template and its caller
 * cannot drift apart silently. nginx's own variables (`$host`) are left alone: never write them as
 * `${host}` in a template.
 */
export function renderTemplate(text: string, vars: Record<string, string | number>): string {
  const missing = new Set<string>();
  const rendered = text.replace(/\$\{([^}]*)\}/g, (_match, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) {
      missing.add(name);
      return '';
    }
    return String(value);
  });
  if (missing.size > 0) {
    throw new Error(`rendering template: no value for placeholder(s) ${[...missing].map((n) => `\${${n}}`).join(', ')}`);
  }
  return rendered;
}
