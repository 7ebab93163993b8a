import type { KafkaConfig } from '../src/config/schema.js';
import { BatchPacker, packedSize } from '../src/batch/pack.js';
import { bareConsumer, connect, consume, disconnect } from '../src/loadtest/kafka-probe.js';

/**
 * The source stage both placements of `bench/source-thread.ts` run: node-rdkafka's consume loop
 * (the processor's consume size and fetch settings, a fresh group from the start of the topic)
 * and the dispatcher's packing of each consume call into a batch buffer taken from a small
 * pool, handed to `deliver`. Imported only by the thread that owns node-rdkafka.
 */
export async function runSourceStage(config: KafkaConfig, topic: string, count: number,
  deliver: (buffer: ArrayBuffer, messages: number) => void, takeBuffer: (bytes: number) => ArrayBuffer): Promise<number> {
  const consumer = bareConsumer({ ...config, topics: [topic] }, 'source-bench', config.fetchMinBytes);
  await connect(consumer, config);
  consumer.setDefaultConsumeTimeout(100);
  consumer.subscribe([topic]);
  const packer = new BatchPacker(new ArrayBuffer(0));
  let seen = 0;
  try {
    while (seen < count) {
      const messages = await consume(consumer, config.consumeBatchSize);
      if (messages.length === 0) continue;
      let bytes = 0;
      for (const m of messages) bytes += m.value?.length ?? 0;
      const buffer = takeBuffer(packedSize(messages.length, bytes));
      packer.reset(buffer, messages.length);
      for (const m of messages) packer.append(m.value ?? EMPTY, m.offset, m.partition);
      deliver(packer.finish(), messages.length);
      seen += messages.length;
    }
  } finally {
    await disconnect(consumer);
  }
  return seen;
}

const EMPTY = new Uint8Array(0);
