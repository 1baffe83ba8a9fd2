// Signs test tokens with the server's own key file, to make expired / forged / wrong-audience tokens.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

export function serverKey(dataDir) {
  const k = JSON.parse(readFileSync(join(dataDir, 'jwt.key'), 'utf8'));
  return { kid: k.kid, secret: Buffer.from(k.secret, 'base64url') };
}

export function sign(header, payload, secret) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = secret ? createHmac('sha256', secret).update(input).digest('base64url') : '';
  return `${input}.${sig}`;
}

export function decode(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}
