import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The SQL examples of docs/storage.md ("Queries"), for `table` instead of `market_events`: the
 * tests run each of them on both storage paths, so the documentation cannot drift from the schema.
 */
export function storageDocQueries(table: string): string[] {
  const doc = readFileSync(fileURLToPath(new URL('../../../docs/storage.md', import.meta.url)), 'utf8');
  const queries = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!.replaceAll('market_events', table).trim());
  if (queries.length === 0) throw new Error('docs/storage.md has no ```sql examples');
  return queries;
}
