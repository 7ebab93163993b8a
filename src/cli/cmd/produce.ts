import { DEFAULT_VENUES } from '../../codec/synthetic.js';
import type { ProduceArgs } from '../commands.js';
import { intOption, load, usageFail } from '../common.js';
import { produce } from '../../loadtest/generator.js';

export async function cmdProduce({ values }: ProduceArgs): Promise<void> {
  const config = load(values.config);
  const venues = values.venues === undefined ? [...DEFAULT_VENUES] : values.venues.split(',').map((s) => s.trim()).filter(Boolean);
  if (venues.length === 0) usageFail('produce', '--venues needs at least one venue');
  const symbols = intOption(values, 'symbols', 20);
  if (symbols < 1) usageFail('produce', '--symbols must be at least 1');
  const count = values.count === undefined ? undefined : intOption(values, 'count', 0);
  const stats = await produce(config.kafka, {
    topic: values.topic ?? config.kafka.topics[0]!,
    symbols, venues,
    rate: intOption(values, 'rate', 10_000),
    durationS: intOption(values, 'duration', 10),
    ...(count === undefined ? {} : { count }),
    bad: intOption(values, 'bad', 0),
    json: values.json === true,
    seed: intOption(values, 'seed', 42),
  });
  const rate = stats.elapsedMs > 0 ? Math.round(((stats.produced + stats.bad) * 1000) / stats.elapsedMs) : 0;
  process.stdout.write(`${JSON.stringify({ ...stats, ratePerSec: rate })}\n`);
  if (stats.failed > 0) process.exit(1);
}
