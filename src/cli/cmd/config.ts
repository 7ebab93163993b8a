import { configEnvFile } from '../../config/env-file.js';
import { configMarkdownTable } from '../../config/load.js';
import type { ConfigArgs } from '../commands.js';
import { load, usageFail } from '../common.js';

export function cmdConfig({ values }: ConfigArgs): void {
  if (values.markdown && values.effective) usageFail('config', '--markdown and --effective exclude each other');
  if (values.config !== undefined && !values.effective) usageFail('config', '--config is read with --effective only');
  if (values.markdown) {
    process.stdout.write(configMarkdownTable());
    return;
  }
  process.stdout.write(configEnvFile(values.effective ? { config: load(values.config) } : {}));
}
