import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real recordings in shared/data/cryptofeed (beside the repository; SHARED_DATA_DIR overrides). */
export const RECORDINGS_DIR = process.env.SHARED_DATA_DIR ?? fileURLToPath(new URL('../../../../shared/data/cryptofeed', import.meta.url));

export function recordingFiles(): string[] {
  if (!existsSync(RECORDINGS_DIR)) return [];
  return readdirSync(RECORDINGS_DIR).filter((f) => /\.(ws|http)\.\d+\.\d+$/.test(f)).sort().map((f) => join(RECORDINGS_DIR, f));
}
