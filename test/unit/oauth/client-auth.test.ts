/**
 * Client credentials from HTTP Basic (RFC 6749 §2.3.1, RFC 7617): the id and secret are
 * form-urlencoded, then base64, and the bytes must be UTF-8. Plain ASCII credentials, encoded ones
 * ('+', percent-escapes), non-ASCII UTF-8 and bytes that are not UTF-8 each decode (or fail) exactly.
 */
import { describe, expect, it } from 'vitest'
import { clientCredentialsFrom } from '../../../src/http/oauth/client-auth.ts'

const basic = (bytes: Buffer | string) =>
  `Basic ${(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64')}`
const empty = new URLSearchParams()

describe('clientCredentialsFrom, HTTP Basic', () => {
  it.each([
    ['plain ASCII', 'service:s3cret-value', 'service', 's3cret-value'],
    ["'+' is a space", 'my+client:a+b', 'my client', 'a b'],
    ['percent-escapes', 'a%3Ab:%25%2B%41', 'a:b', '%+A'],
    ['UTF-8 text', 'clïent:sécret', 'clïent', 'sécret'],
    ['escaped UTF-8', 'cl%C3%AFent:x', 'clïent', 'x'],
  ])('%s', (_name, raw, clientId, clientSecret) => {
    expect(clientCredentialsFrom(basic(raw), empty)).toEqual({
      method: 'client_secret_basic',
      clientId,
      clientSecret,
    })
  })

  it.each([
    ['bytes that are not UTF-8', basic(Buffer.from([0x73, 0x3a, 0xff, 0xfe]))],
    ['an escape that is not UTF-8', basic('service:%FF')],
    ['no colon', basic('service')],
    ['not base64', 'Basic !!!'],
  ])('refuses %s with invalid_client', (_name, authorization) => {
    expect(() => clientCredentialsFrom(authorization, empty)).toThrow(
      expect.objectContaining({ error: 'invalid_client' }),
    )
  })
})
