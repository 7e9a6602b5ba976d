/**
 * `gatehouse users add --username alice [--sub id] [--name "Alice"] [--email a@example.com]`: a user
 * entry for the config's `users` array with an scrypt hash (OWASP parameters). The password is read
 * from stdin (first line) or prompted for without echo on a terminal — never from argv, where it would
 * land in shell history and `ps`.
 *
 * @example printf '%s\n' "$PASSWORD" | gatehouse users add --username alice --email alice@example.com
 */
import { randomUUID } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { PasswordHasher } from '../core/oauth/password.ts'
import { UsageError } from './keys.ts'

export async function usersAdd(
  args: string[],
  readPassword: () => Promise<string>,
  passwords: PasswordHasher,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      username: { type: 'string' },
      sub: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
    },
  })
  if (!values.username) throw new UsageError('--username is required')
  const password = await readPassword()
  if (password.length < 8) throw new UsageError('the password must have at least 8 characters')
  if (password.length > 1024) throw new UsageError('the password must have at most 1024 characters')
  const claims: Record<string, unknown> = {}
  if (values.name) claims['name'] = values.name
  if (values.email) {
    claims['email'] = values.email
    claims['email_verified'] = false
  }
  return {
    sub: values.sub ?? randomUUID(),
    username: values.username,
    passwordHash: await passwords.hash(password),
    claims,
  }
}
