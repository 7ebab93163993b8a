import type { KafkaConfig } from '../config/schema.js';
import { ErrorCode, HimariError } from '../errors.js';
import { KafkaWire, WireReader, WireWriter } from './wire.js';

/** Kafka protocol: FindCoordinator v1 and DescribeGroups v1 (Kafka 0.11+; 4.0 keeps both). */
const FIND_COORDINATOR = 10;
const DESCRIBE_GROUPS = 15;
const VERSION = 1;
const KEY_TYPE_GROUP = 0;

/** What the group coordinator says of a consumer group. */
export interface GroupState {
  /** Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  state: string;
  /** client.id and host of each member (a processor is one member). */
  members: Array<{ clientId: string; host: string }>;
}

/**
 * The state and members of a consumer group, which node-rdkafka's admin client does not offer.
 * Asks a bootstrap broker for the group's coordinator, then asks the coordinator. Read-only:
 * neither request joins the group, so a running processor is not rebalanced.
 */
export async function describeGroup(config: KafkaConfig, groupId: string, timeoutMs: number): Promise<GroupState> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(100, deadline - Date.now());
  let last: unknown = null;
  for (const broker of config.brokers.split(',').map((b) => b.trim()).filter(Boolean)) {
    const [host, port] = splitHostPort(broker);
    let wire: KafkaWire | null = null;
    try {
      wire = await KafkaWire.open(config, host, port, left());
      const r = new WireReader(await withTimeout(wire.request(FIND_COORDINATOR, VERSION, new WireWriter().str(groupId).int8(KEY_TYPE_GROUP).done()), left()));
      r.int32(); // throttle time
      const error = r.int16();
      const message = r.str();
      if (error !== 0) throw new HimariError(ErrorCode.KAFKA_ERROR, `FindCoordinator: broker error ${error}${message === null ? '' : ` (${message})`}`);
      r.int32(); // node id
      const coordinatorHost = r.str() ?? host;
      const coordinatorPort = r.int32();
      if (coordinatorHost !== host || coordinatorPort !== port) {
        wire.close();
        wire = await KafkaWire.open(config, coordinatorHost, coordinatorPort, left());
      }
      const body = new WireWriter().int32(1).str(groupId).done();
      return decodeDescribeGroups(await withTimeout(wire.request(DESCRIBE_GROUPS, VERSION, body), left()));
    } catch (err) {
      last = err;
    } finally {
      wire?.close();
    }
  }
  throw new HimariError(ErrorCode.KAFKA_ERROR, `describing group ${groupId} at ${config.brokers}: ${last instanceof Error ? last.message : String(last)}`, { cause: last });
}

/** The DescribeGroups v1 response body after its correlation id (exported for its unit test). */
export function decodeDescribeGroups(b: Buffer): GroupState {
  const r = new WireReader(b);
  r.int32(); // throttle time
  const groups = r.int32();
  if (groups < 1) throw new HimariError(ErrorCode.KAFKA_ERROR, 'DescribeGroups: no group in the answer');
  const error = r.int16();
  r.str(); // group id
  const state = r.str() ?? '';
  if (error !== 0) throw new HimariError(ErrorCode.KAFKA_ERROR, `DescribeGroups: broker error ${error}`);
  r.str(); // protocol type
  r.str(); // protocol
  const members: GroupState['members'] = [];
  for (let n = r.int32(); n > 0; n--) {
    r.str(); // member id
    const clientId = r.str() ?? '';
    const host = r.str() ?? '';
    r.bytes(); // metadata
    r.bytes(); // assignment
    members.push({ clientId, host: host.replace(/^\//, '') });
  }
  return { state, members };
}

function splitHostPort(broker: string): [string, number] {
  const at = broker.lastIndexOf(':');
  return [broker.slice(0, at).replace(/^\[|\]$/g, ''), Number(broker.slice(at + 1))];
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new HimariError(ErrorCode.TIMEOUT, `no answer in ${ms} ms`, { retriable: true })), ms); })])
    .finally(() => clearTimeout(timer));
}
