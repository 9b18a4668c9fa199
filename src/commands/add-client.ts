import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {UsageError} from '../core/errors.js'
import {validateAddRequest} from '../core/database.js'

/** What `add-client --json` prints. */
export interface AddClientResult {
  client_id: number
  name: string
  api_key: string
  password: string | null
  crypto_key: string | null
  is_admin: boolean
}

export default class AddClient extends StoreCommand {
  static override summary = 'Enrol a satellite: create a client with an access key and password.'
  static override description = `Generates a 32-hex-character access key and password (128 bits each, node:crypto) unless given, and prints them ONCE: they are not shown again (list-clients masks them).
An access key already used by a live client is rejected.`
  static override examples = [
    '<%= config.bin %> <%= command.id %> --name kitchen',
    '<%= config.bin %> <%= command.id %> --name bridge --admin',
    '<%= config.bin %> <%= command.id %> --name old-satellite --access-key "$OLD_ACCESS_KEY" --crypto-key "$OLD_CRYPTO_KEY"',
    '<%= config.bin %> <%= command.id %> --name kitchen --json --quiet',
  ]

  static override flags = {
    name: Flags.string({description: 'friendly name (default HiveMind-Node-<id>)'}),
    description: Flags.string({description: 'free-text description'}),
    'access-key': Flags.string({description: 'access key to use instead of a generated one (not only digits: NODE_ID would take it for an id)'}),
    password: Flags.string({description: 'password to use instead of a generated one'}),
    'crypto-key': Flags.string({description: 'legacy pre-shared encryption key, exactly 16 ASCII characters'}),
    admin: Flags.boolean({description: 'make the client an admin (the Python hivemind-core\'s --admin True / --admin False work too)', default: false, allowNo: true}),
  }

  async run(): Promise<AddClientResult> {
    const {flags} = await this.parse(AddClient, withUpstreamAdminValue(this.argv))
    const request = {
      name: flags.name,
      description: flags.description,
      accessKey: flags['access-key'],
      password: flags.password,
      cryptoKey: flags['crypto-key'],
      admin: flags.admin,
    }
    validateAddRequest(request)
    const record = await this.withDatabase(flags, 'write', (db) => db.addClient(request), {assignsIds: true})
    // The Python hivemind-core's lines, word for word: provisioning scripts read them
    // ("Access Key: …"). Scripts written for this one should use --json.
    this.log('Credentials added to database!\n')
    this.log(`Node ID: ${record.client_id}`)
    this.log(`Admin Privileges: ${record.is_admin ? 'True' : 'False'}`)
    this.log(`Friendly Name: ${record.name}`)
    this.log(`Access Key: ${record.api_key}`)
    this.log(`Password: ${record.password}`)
    this.log(`Encryption Key: ${record.crypto_key ?? 'None'}`)
    this.log('Save these credentials now: they are not shown again.')
    return {
      client_id: record.client_id,
      name: record.name,
      api_key: record.api_key,
      password: record.password,
      crypto_key: record.crypto_key,
      is_admin: record.is_admin,
    }
  }
}

/** What click's bool type reads as true, and as false. */
const CLICK_TRUE = new Set(['1', 'true', 't', 'yes', 'y', 'on'])
const CLICK_FALSE = new Set(['0', 'false', 'f', 'no', 'n', 'off'])

/**
 * The Python hivemind-core's `--admin` took a value (`--admin True`, click's bool type), ours is a
 * switch: `--admin True` / `--admin=false` become `--admin` / `--no-admin`, so scripts written
 * for it keep working. A bare `--admin` is left as it is.
 */
export function withUpstreamAdminValue(argv: readonly string[]): string[] {
  const out: string[] = []
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!
    if (argument === '--') {
      out.push(...argv.slice(index))
      break
    }
    const inline = /^--admin=(.*)$/.exec(argument)?.[1]
    const value = (inline ?? (argument === '--admin' ? argv[index + 1] : undefined))?.toLowerCase()
    if (value !== undefined && (CLICK_TRUE.has(value) || CLICK_FALSE.has(value))) {
      out.push(CLICK_TRUE.has(value) ? '--admin' : '--no-admin')
      if (inline === undefined) index++
      continue
    }
    if (inline !== undefined) {
      throw new UsageError(`--admin=${inline.slice(0, 20)} is not a yes or no`, {suggestion: '--admin alone, or --admin True / --admin False as the Python hivemind-core took it; --no-admin'})
    }
    out.push(argument)
  }
  return out
}
