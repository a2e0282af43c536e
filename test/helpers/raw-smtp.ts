// A raw SMTP conversation over a socket, for inputs no well-behaved client would send.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export class RawSmtp {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  greeting: string | null = null;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  static async open(port: number, localAddress?: string): Promise<RawSmtp> {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    await new Promise((r, j) => {
      s.once('connect', r);
      s.once('error', j);
    });
    const c = new RawSmtp(s);
    c.greeting = await c.reply();
    return c;
  }

  /** The next complete reply (last line "NNN "), or null when the server closed. */
  async reply(timeoutMs = 10_000): Promise<string | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3} [^\r\n]*\r\n)/.exec(this.buf);
      if (m) {
        this.buf = this.buf.slice(m[1].length);
        return m[1].trimEnd();
      }
      if (this.closed) return null;
      if (Date.now() > end) throw new Error(`no reply; buffer: ${this.buf.slice(0, 200)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** STARTTLS (any certificate accepted): resolves with the conversation over TLS, or throws with the refusal. */
  async starttls(): Promise<RawSmtp> {
    const reply = await this.cmd('STARTTLS');
    if (!reply?.startsWith('220')) throw new Error(`STARTTLS refused: ${reply}`);
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise((r, j) => {
      secure.once('secureConnect', r);
      secure.once('error', j);
    });
    return new RawSmtp(secure);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string): Promise<string | null> {
    this.write(line + '\r\n');
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}
