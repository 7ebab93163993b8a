/**
 * How hard the fault suite pushes: `FAULTS_PROFILE=ci` runs every scenario at reduced volume
 * (the whole profile in about ten minutes on a 2-core machine), `full` at the volumes issue #13
 * names (1,000,000 events with 0.1 % poison and a clean run of the same size, at least 10 kill -9
 * in one run, 30 s outages).
 */
export interface FaultProfile {
  readonly name: 'ci' | 'full';
  /** Events per second of the load that runs through most scenarios. */
  readonly rate: number;
  /** One poison message per this many messages in every scenario's load. */
  readonly poisonEvery: number;
  /** The poison scenario: messages (poison included) in the poisoned run and in its clean twin. */
  readonly poisonRunEvents: number;
  /** The poison scenario: one poison message per this many (0.1 %). */
  readonly poisonRunEvery: number;
  /** kill -9 in the kill-storm scenario. */
  readonly kills: number;
  /** How long each Redis / PostgreSQL fault lasts. */
  readonly outageMs: number;
  /** How long the second broker stays down in each restart. */
  readonly brokerDownMs: number;
  /** Kill-and-replace rounds with two and with three instances. */
  readonly instanceRounds: number;
  /** Bound on any processor's peak RSS (VmHWM). */
  readonly rssBoundMb: number;
  /** Bound on the wait for the group to commit to the end once a fault healed (reported, bounded only). */
  readonly recoveryBoundMs: number;
}

const PROFILES: Record<FaultProfile['name'], FaultProfile> = {
  ci: {
    name: 'ci', rate: 2_000, poisonEvery: 250, poisonRunEvents: 100_000, poisonRunEvery: 1_000,
    kills: 5, outageMs: 8_000, brokerDownMs: 3_000, instanceRounds: 3, rssBoundMb: 1_024, recoveryBoundMs: 180_000,
  },
  full: {
    name: 'full', rate: 5_000, poisonEvery: 1_000, poisonRunEvents: 1_000_000, poisonRunEvery: 1_000,
    kills: 12, outageMs: 30_000, brokerDownMs: 20_000, instanceRounds: 10, rssBoundMb: 1_024, recoveryBoundMs: 600_000,
  },
};

export function faultProfile(): FaultProfile {
  const name = process.env.FAULTS_PROFILE ?? 'ci';
  if (name !== 'ci' && name !== 'full') throw new Error(`FAULTS_PROFILE must be ci or full, not ${name}`);
  return PROFILES[name];
}

/** The seed of every random choice (kill moments, which instance dies): FAULTS_SEED replays a run. */
export function faultSeed(): number {
  return Number(process.env.FAULTS_SEED ?? 20261202) >>> 0;
}

/** xorshift32, so that a failing run can be replayed with its seed. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  next(): number {
    let x = this.state;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.state = x;
    return x / 4294967296;
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}
