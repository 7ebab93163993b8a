import { checksMarkdownTable } from '../../checks/docs.js';
import { ALL_CHECKS } from '../../checks/registry.js';
import { SCHEMA_CHECKS } from '../../checks/schema.js';
import type { ChecksArgs } from '../commands.js';

export function cmdChecks({ values }: ChecksArgs): void {
  if (values.markdown) {
    process.stdout.write(checksMarkdownTable());
    return;
  }
  const list = ALL_CHECKS.map((c) => ({
    id: c.id, bit: c.bit, group: c.group, severity: c.severity, description: c.description, keeps: c.keeps,
    thresholds: Object.fromEntries(Object.entries(c.thresholds).map(([k, t]) => [k, { default: t.default, min: t.min, max: t.max, description: t.description, ...(t.venues ? { venues: t.venues } : {}) }])),
  }));
  // The decoder's schema checks first: they run first, and a message failing one is dead-lettered.
  const schema = SCHEMA_CHECKS.map((c) => ({ id: c.id, group: 'schema', severity: 'dead-letter', stage: 'decoder', code: c.code, description: c.description }));
  if (values.json) process.stdout.write(JSON.stringify([...schema, ...list], null, 2) + '\n');
  else for (const c of [...schema, ...list]) process.stdout.write(`${c.id.padEnd(4)} ${c.severity.padEnd(11)} ${c.group.padEnd(15)} ${c.description}\n`);
}
