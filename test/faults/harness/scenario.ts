import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import { loadConfig } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { cleanup, committedOffsets, endOffsets, waitUntil, withPg } from '../../helpers/services.js';
import { freePort } from '../../helpers/outage.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';
import { Instance } from './instance.js';
import { FaultLoad, type Ledger, type LoadOptions } from './load.js';
import { FAULT_DLQ_MAX_BYTES, FAULT_MAX_MESSAGE_BYTES, POISON_KINDS, type PoisonKind } from './poison.js';
import { faultProfile, type FaultProfile } from './profile.js';

export const MAIN_BROKER = '127.0.0.1:9092';
const REAL_PG = { host: '127.0.0.1', port: 5432 };
const REAL_REDIS = { host: '127.0.0.1', port: 6379 };
/** The input topic takes the heap bomb (3 MB); the dead-letter topic only FAULT_DLQ_MAX_BYTES. */
const INPUT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

export interface ScenarioOptions {
  partitions?: number;
  brokers?: string;
  /**
   * The brokers the processor instances are given, when not `brokers` (a proxy in front of them);
   * the suite's own clients (topics, load, verification) always use `brokers`.
   */
  processorBrokers?: string;
  /** Processor env on top of the scenario's (every instance). */
  env?: Record<string, string>;
  /** Poison kinds of the scenario's loads (default: all of POISON_KINDS). */
  kinds?: readonly PoisonKind[];
}

export interface Proxies {
  pg: TcpProxy;
  redis: TcpProxy;
}

async function proxyPair(): Promise<Proxies> {
  const pg = new TcpProxy(REAL_PG.host, REAL_PG.port);
  const redis = new TcpProxy(REAL_REDIS.host, REAL_REDIS.port);
  await pg.listen();
  await redis.listen();
  return { pg, redis };
}

function createTopic(brokers: string, topic: string, partitions: number, maxMessageBytes: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'metadata.broker.list': brokers });
  return new Promise<void>((resolve, reject) => admin.createTopic(
    { topic, num_partitions: partitions, replication_factor: 1, config: { 'max.message.bytes': String(maxMessageBytes) } }, 30_000,
    (err) => { admin.disconnect(); if (err) reject(err); else resolve(); }));
}

/**
 * One fault scenario's world: its own topics (the dead-letter one with a small message limit),
 * consumer group, table and key prefix; a TCP proxy in front of PostgreSQL and one in front of
 * Redis that every instance goes through unless it is given proxies of its own; the processor
 * instances it starts; the loads it produced; and when its fault healed. `close` removes all of it.
 */
export class Scenario {
  readonly id: string;
  readonly profile: FaultProfile;
  /** The processor's view of its config, but pointing at the real services (for the verifier). */
  readonly config: Readonly<Config>;
  readonly env: Record<string, string>;
  readonly proxies: Proxies;
  readonly instances: Instance[] = [];
  readonly kinds: readonly PoisonKind[];
  private readonly loads: FaultLoad[] = [];
  private readonly extraProxies: Proxies[] = [];
  private readonly ledgers: Ledger[] = [];
  healedAt: number | null = null;
  kills = 0;
  readonly notes: string[] = [];
  /** Set once the verifier recorded the scenario's figures. */
  recorded = false;

  private constructor(readonly name: string, readonly partitions: number, readonly brokers: string, processorBrokers: string, proxies: Proxies, env: Record<string, string>, kinds: readonly PoisonKind[]) {
    this.id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    this.profile = faultProfile();
    this.proxies = proxies;
    this.kinds = kinds;
    this.env = {
      HIMARI_KAFKA_BROKERS: processorBrokers,
      HIMARI_KAFKA_TOPICS: `faults.${this.id}`,
      HIMARI_KAFKA_DEAD_LETTER_TOPIC: `faults.${this.id}.dlq`,
      HIMARI_KAFKA_GROUP_ID: `faults-${this.id}`,
      HIMARI_KAFKA_TOPIC_PARTITIONS: String(partitions),
      HIMARI_KAFKA_CREATE_TOPICS: 'true',
      HIMARI_KAFKA_MAX_MESSAGE_BYTES: String(FAULT_MAX_MESSAGE_BYTES),
      HIMARI_KAFKA_DEAD_LETTER_MAX_MESSAGE_BYTES: String(FAULT_DLQ_MAX_BYTES),
      // A killed member's partitions move to a survivor after this.
      HIMARI_KAFKA_SESSION_TIMEOUT_MS: '6000',
      HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:${proxies.pg.port}/postgres`,
      HIMARI_POSTGRES_TABLE: `faults_${this.id}`,
      HIMARI_REDIS_URL: `redis://127.0.0.1:${proxies.redis.port}/0`,
      HIMARI_REDIS_KEY_PREFIX: `faults:${this.id}:`,
      HIMARI_METRICS_PORT: '0',
      HIMARI_WORKERS_THREADS: '2',
      HIMARI_LOG_LEVEL: 'info',
      // Outages are noticed within a few seconds, not the production defaults' 5-15 s.
      HIMARI_SINK_PROBE_INTERVAL_MS: '1000',
      HIMARI_REDIS_COMMAND_TIMEOUT_MS: '2000',
      HIMARI_POSTGRES_QUERY_TIMEOUT_MS: '5000',
      ...env,
    };
    this.config = loadConfig({ env: {
      ...this.env,
      HIMARI_KAFKA_BROKERS: brokers,
      HIMARI_POSTGRES_URL: `postgres://postgres@${REAL_PG.host}:${REAL_PG.port}/postgres`,
      HIMARI_REDIS_URL: `redis://${REAL_REDIS.host}:${REAL_REDIS.port}/0`,
    } });
  }

  static async open(name: string, options: ScenarioOptions = {}): Promise<Scenario> {
    const brokers = options.brokers ?? MAIN_BROKER;
    const s = new Scenario(name, options.partitions ?? 4, brokers, options.processorBrokers ?? brokers, await proxyPair(), options.env ?? {}, options.kinds ?? POISON_KINDS);
    await createTopic(s.brokers, s.topic, s.partitions, INPUT_MAX_MESSAGE_BYTES);
    await createTopic(s.brokers, s.deadLetterTopic, s.partitions, FAULT_DLQ_MAX_BYTES);
    return s;
  }

  get topic(): string {
    return this.config.kafka.topics[0]!;
  }

  get deadLetterTopic(): string {
    return this.config.kafka.deadLetterTopic;
  }

  /** A processor instance (not waited for); `ownProxies` gives it a PostgreSQL and a Redis proxy of its own. */
  async spawn(options: { env?: Record<string, string>; ownProxies?: boolean; name?: string } = {}): Promise<Instance> {
    let proxies = this.proxies;
    if (options.ownProxies === true) {
      proxies = await proxyPair();
      this.extraProxies.push(proxies);
    }
    const env = {
      ...this.env,
      HIMARI_POSTGRES_URL: `postgres://postgres@127.0.0.1:${proxies.pg.port}/postgres`,
      HIMARI_REDIS_URL: `redis://127.0.0.1:${proxies.redis.port}/0`,
      ...options.env,
    };
    const instance = new Instance(options.name ?? `${this.name}#${this.instances.length + 1}`, env, proxies);
    this.instances.push(instance);
    return instance;
  }

  /** A processor instance, once it reports ready. */
  async launch(options: { env?: Record<string, string>; ownProxies?: boolean; name?: string } = {}): Promise<Instance> {
    const instance = await this.spawn(options);
    await instance.ready();
    return instance;
  }

  async kill9(instance: Instance): Promise<void> {
    await instance.kill9();
    this.kills++;
  }

  /** Starts a load on the scenario's topic (the profile's rate and poison unless told otherwise). */
  async load(options: Partial<Omit<LoadOptions, 'brokers' | 'topic'>> = {}): Promise<FaultLoad> {
    const load = new FaultLoad({
      brokers: this.brokers, topic: this.topic, rate: this.profile.rate, poisonEvery: this.profile.poisonEvery, kinds: this.kinds,
      seed: this.loads.length + 1, ...options,
    });
    await load.start();
    this.loads.push(load);
    return load;
  }

  /** Stops every load that still runs and returns what all of them delivered. */
  async stopLoads(): Promise<Ledger> {
    for (const load of this.loads.splice(0)) this.ledgers.push(await load.stop());
    return this.ledger;
  }

  get ledger(): Ledger {
    return {
      valid: this.ledgers.reduce((n, l) => n + l.valid, 0),
      poison: this.ledgers.flatMap((l) => l.poison),
      failed: this.ledgers.reduce((n, l) => n + l.failed, 0),
    };
  }

  /** The fault is over from now on: recovery time is measured from here. */
  healed(): void {
    this.healedAt = Date.now();
  }

  live(): Instance[] {
    return this.instances.filter((i) => i.alive);
  }

  /** PostgreSQL rows of the scenario's table (0 before the table exists). */
  async pgRows(): Promise<number> {
    return withPg(this.config, async (c) => {
      const r = await c.query(`SELECT count(*)::int AS n FROM ${this.config.postgres.table}`).catch(() => ({ rows: [{ n: 0 }] }));
      return r.rows[0].n as number;
    });
  }

  async committed(): Promise<Map<number, number>> {
    return committedOffsets(this.config);
  }

  async endOffsets(): Promise<Map<number, number>> {
    return endOffsets(this.config);
  }

  /**
   * Waits (bounded by the profile) until the group committed every partition to its end, and
   * returns when that happened: the end of the recovery.
   */
  async waitCommittedToEnd(boundMs = this.profile.recoveryBoundMs): Promise<number> {
    const ends = await this.endOffsets();
    await waitUntil('the group to commit the end offsets', async () => {
      const committed = await this.committed();
      return [...ends].every(([p, end]) => end === 0 || committed.get(p) === end);
    }, boundMs, 250).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.live().map((i) => i.tail()).join('\n')}`);
    });
    return Date.now();
  }

  /** Removes everything the scenario made; never throws (it runs in `after` hooks). */
  async close(): Promise<void> {
    for (const load of this.loads.splice(0)) await load.stop().catch(() => {});
    for (const i of this.instances) await i.stop();
    for (const p of [this.proxies, ...this.extraProxies]) {
      await p.pg.close().catch(() => {});
      await p.redis.close().catch(() => {});
    }
    await cleanup(this.config).catch((err: Error) => process.stderr.write(`cleanup of ${this.name}: ${err.message}\n`));
  }
}

/** A free TCP port on 127.0.0.1 (a metrics endpoint a scenario reads /readyz from). */
export { freePort };
