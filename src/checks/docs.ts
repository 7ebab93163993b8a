import { ALL_CHECKS } from './registry.js';
import { SCHEMA_CHECKS } from './schema.js';

/** The reference table of docs/checks.md, generated from the registry. */
export function checksMarkdownTable(): string {
  const fmt = (n: number) => (Math.abs(n) >= 1e6 ? n.toExponential() : String(n));
  const rows = ALL_CHECKS.map((c) => {
    const thresholds = Object.entries(c.thresholds).map(([name, t]) =>
      `\`${name}\`=${fmt(t.default)}${t.venues ? ` (${Object.entries(t.venues).map(([v, x]) => `${v}: ${fmt(x)}`).join(', ')})` : ''}: ${t.description}`).join('<br>') || '-';
    return `| ${c.id} | ${c.bit} | ${c.group} | ${c.severity} | ${c.description.replaceAll('|', '\\|')} | ${c.keeps} | ${thresholds.replaceAll('|', '\\|')} |`;
  });
  const schema = SCHEMA_CHECKS.map((c) => `| ${c.id} | - | schema (decoder) | dead-letter (${c.code}) | ${c.description.replaceAll('|', '\\|')} | nothing | - |`);
  return ['| id | bit | group | severity | what it checks | state per symbol | thresholds (default) |', '|---|---|---|---|---|---|---|', ...schema, ...rows].join('\n') + '\n';
}
