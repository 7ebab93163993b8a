import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * What the proxy does with traffic:
 * - `pass`: forwards both ways;
 * - `refuse`: closes every new connection at once (a server that is down) and cuts open ones;
 * - `blackhole`: accepts and reads, forwards nothing and answers nothing (a hung server or a
 *   network that drops packets): open connections go silent too;
 * - `slow`: forwards, each chunk held `delayMs` first, in order.
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

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
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
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /** Copies `from` to `to` as the mode says, read at each chunk (a switch applies at once). */
  private forward(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const mode = this.mode;
      if (mode === 'blackhole' || mode === 'refuse') return;
      if (mode === 'pass') {
        chain = chain.then(() => { if (!to.destroyed) to.write(chunk); });
        return;
      }
      const delay = this.delayMs;
      chain = chain.then(() => new Promise<void>((resolve) => setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
        resolve();
      }, delay)));
    });
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
