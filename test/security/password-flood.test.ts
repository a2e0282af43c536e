// Every password check runs one scrypt on libuv's thread pool (4 threads), which also runs every file call,
// the relay's spool writes among them. Wrong passwords cost the sender nothing and no lockout holds a flood
// of them (a random sys_id each time is a new (client, sys_id) pair): 128 such uploads at once, and a trusted
// cart's mail waited 6-10 s for its 250 (10 ms without them), its spool writes queued behind the scrypt runs.
// Now at most two checks run at once and the rest wait outside the pool. Real receiver, relay, HTTP and SMTP,
// in one process as under `start`. Measured by order, not time: the 250 comes before most checks are done.
import { describe, it, expect, afterEach, inject } from 'vitest';
import { startReceiver } from '../../src/roles/receiver.js';
import { startRelay } from '../../src/roles/relay.js';
import { tempDir, testConfig, uniqueName, stopAll, log } from '../helpers/env.js';
import { post, form } from '../helpers/http.js';
import { sendMail } from '../helpers/smtp.js';

let t: ReturnType<typeof tempDir> | undefined;
const running: { close(): unknown }[] = [];
afterEach(async () => {
  await stopAll(...running.splice(0));
  t?.cleanup();
});

const FLOOD = 32;

describe('a flood of wrong passwords', () => {
  it('does not hold up the relay: the 250 comes before most checks are answered', async () => {
    t = tempDir();
    const cfg = testConfig(t.dir);
    const receiver = await startReceiver(cfg, inject('redisUrl'), log, { queueName: uniqueName('stock') });
    running.push(receiver);
    const relay = await startRelay(cfg, inject('redisUrl'), log, { queueName: uniqueName('mail') });
    running.push(relay);
    // warm: the dummy hash unknown sys_ids are checked against is made on first use
    await post(
      receiver.port!,
      cfg.receiver.path,
      form([
        ['sys_id', 'zr-nobody'],
        ['sys_pass', 'x'],
      ]),
    );

    let answered = 0;
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      post(
        receiver.port!,
        cfg.receiver.path,
        form([
          ['sys_id', `zr-${String(i).padStart(7, '0')}`],
          ['sys_pass', 'guess'],
        ]),
      ).then((r) => {
        answered++;
        return r.text;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 50)); // the uploads are read and their checks started
    const sent = await sendMail({
      port: relay.port!,
      from: 'someone@example.com',
      to: ['rcpt@example.net'],
      raw: 'Subject: hi\r\n\r\nhello\r\n',
    });
    const answeredAtTheQueuedReply = answered;
    expect(sent.response).toMatch(/^250 /);
    expect(await Promise.all(flood)).toEqual(Array(FLOOD).fill('NG\nauth_error\n'));
    // Old code: the spool writes waited behind the queued scrypt runs, the 250 came after ~all of them.
    expect(answeredAtTheQueuedReply).toBeLessThan(FLOOD / 2);
  });
});
