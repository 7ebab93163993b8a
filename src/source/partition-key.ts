/**
 * The key of a topic partition in the processor's maps (backlogs, worker slots, offset
 * tracking, stopped partitions, sink watermarks), built here only. NUL separates the parts: it
 * cannot occur in a Kafka topic name, so no two partitions share a key.
 */
export type PartitionKey = string & { readonly partitionKey: unique symbol };

export function partitionKey(topic: string, partition: number): PartitionKey {
  return `${topic}\u0000${partition}` as PartitionKey;
}

/** `topic[partition]`, for messages and logs. */
export function describePartitionKey(key: PartitionKey): string {
  const at = key.lastIndexOf('\u0000');
  return `${key.slice(0, at)}[${key.slice(at + 1)}]`;
}
