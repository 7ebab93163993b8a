import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * What the proxy does with traffic:
 * - `pass`: forwards both ways;
 * - `refuse`: closes every new connection at once (a server that is down) and cuts open ones;
 * - `blackhole`: accepts and reads, delivers nothing either way (a hung server or a network that
 *   drops packets): open connections go silent too. What was sent meanwhile is delivered, in
 *   order, once the mode changes back, as TCP's retransmissions would: a stream never loses bytes
 *   in its middle (dropping them made a healed connection answer the wrong request);
 * - `slow`: forwards requests at once and holds each chunk of the server's replies `delayMs`
 *   after it arrived, in order: every request/response call takes `delayMs` longer, while
 *   bandwidth stays unlimited (a chunk's delay does not add to the next one's).
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'slow';

interface Pair {
  client: Socket;
  upstream: Socket | null;
}

/**
 * A TCP proxy in front of a real service (Redis, PostgreSQL, a broker), switched between modes
 * while a test runs, to put the processor through outages it cannot tell from the real thing.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private mode: ProxyMode = 'pass';
  private delayMs = 0;
  /** Resolves when the black hole ends; null while there is none. */
  private unblocked: { promise: Promise<void>; resolve: () => void } | null = null;
  /** Reply chunks the `slow` mode holds right now: the server answered, the client does not know yet. */
  private held = 0;
  /** Reply chunks `slow` has held since the proxy started. */
  slowedReplies = 0;
  /** Connections `refuse` closed at once since the proxy started (cut open ones not counted). */
  refusedConnections = 0;
  /** Chunks, either way, that `blackhole` swallowed (delivered later) since the proxy started. */
  blackholedChunks = 0;
  private readonly holdWaiters: Array<{ text: Buffer; resolve: () => void }> = [];
  port = 0;

  constructor(private readonly upstreamHost: string, private readonly upstreamPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  /** Switches mode; `refuse` also cuts the open connections. */
  set(mode: ProxyMode, delayMs = 200): void {
    this.mode = mode;
    this.delayMs = delayMs;
    if (mode === 'blackhole') {
      if (this.unblocked === null) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => { resolve = r; });
        this.unblocked = { promise, resolve };
      }
    } else if (this.unblocked !== null) {
      this.unblocked.resolve();
      this.unblocked = null;
    }
    if (mode === 'refuse') this.cut();
  }

  /** Resets every open connection (both sides see the connection drop). */
  cut(): void {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
    this.pairs.clear();
  }

  get connections(): number {
    return this.pairs.size;
  }

  /**
   * Resolves the moment `slow` starts holding a reply chunk that contains `text` (a PostgreSQL
   * "COMMIT" tag: the server committed, the client does not know yet), so a test can act inside
   * that window without polling for it.
   */
  whenHolding(text: string): Promise<void> {
    return new Promise((resolve) => this.holdWaiters.push({ text: Buffer.from(text), resolve }));
  }

  /** Server replies being held (`slow`): a call the server finished and the client still waits for. */
  get heldReplies(): number {
    return this.held;
  }

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
      this.refusedConnections++;
      client.destroy();
      return;
    }
    const pair: Pair = { client, upstream: null };
    this.pairs.add(pair);
    const drop = () => {
      client.destroy();
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', drop);
    client.on('close', drop);
    const upstream = connect(this.upstreamPort, this.upstreamHost);
    pair.upstream = upstream;
    upstream.on('error', drop);
    upstream.on('close', drop);
    this.forward(client, upstream, false);
    this.forward(upstream, client, true);
  }

  /** Copies `from` to `to` as the mode says, read at each chunk (a switch applies at once). */
  private forward(from: Socket, to: Socket, replies: boolean): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode === 'refuse') return;
      if (mode === 'blackhole') {
        this.blackholedChunks++;
        const unblocked = this.unblocked!.promise;
        chain = chain.then(() => unblocked).then(() => { if (!to.destroyed) to.write(chunk); });
        return;
      }
      if (mode === 'pass' || !replies) {
        chain = chain.then(() => { if (!to.destroyed) to.write(chunk); });
        return;
      }
      // Due `delayMs` after arrival, not after the previous chunk: latency, not a bandwidth cap.
      const due = Date.now() + this.delayMs;
      this.held++;
      this.slowedReplies++;
      for (let i = this.holdWaiters.length - 1; i >= 0; i--) {
        const w = this.holdWaiters[i]!;
        if (chunk.includes(w.text)) {
          this.holdWaiters.splice(i, 1);
          w.resolve();
        }
      }
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
        this.held--;
        if (!to.destroyed) to.write(chunk);
        resolve();
      }, Math.max(0, due - Date.now()))));
    });
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
