// Real HTTP requests to the receiver, returning status and raw body bytes.
import { request } from 'node:http';
import { connect } from 'node:net';

export function post(
  port: number,
  path: string,
  body: Buffer | string,
  contentType = 'application/x-www-form-urlencoded',
): Promise<{ status: number; body: Buffer; text: string; headers: Record<string, any> }> {
  return send(port, 'POST', path, body, contentType);
}

export function send(port: number, method: string, path: string, body?: Buffer | string, contentType?: string) {
  return new Promise<{ status: number; body: Buffer; text: string; headers: Record<string, any> }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: contentType ? { 'content-type': contentType } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, body: b, text: b.toString('utf8'), headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const form = (fields: [string, string][]) => fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
export const auth: [string, string][] = [
  ['sys_id', 'zr-croft01'],
  ['sys_pass', 's3cret-pass'],
];
export const items = (list: [string, string][]): [string, string][] =>
  list.flatMap(
    ([c, s], i) =>
      [
        [`product[${i}][product_code]`, c],
        [`product[${i}][stock]`, s],
      ] as [string, string][],
  );

/**
 * A raw `GET target` written as is (targets Node's own client would refuse too), with extra header
 * lines; resolves with the answer's status line, '' when the server closes without answering.
 */
export function rawStatusLine(port: number, target: string, headers: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const head = [`GET ${target} HTTP/1.1`, 'Host: x', ...headers, 'Connection: close', '', ''].join('\r\n');
    const s = connect(port, '127.0.0.1', () => s.write(head));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text.split('\r\n')[0]));
    s.on('error', reject);
  });
}
