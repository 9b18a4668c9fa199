import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
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
    admin: Flags.boolean({description: 'make the client an admin', default: false}),
  }

  async run(): Promise<AddClientResult> {
    const {flags} = await this.parse(AddClient)
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
    this.log(`Client added: node id ${record.client_id}`)
    this.log(`  Name:           ${record.name}`)
    this.log(`  Access key:     ${record.api_key}`)
    this.log(`  Password:       ${record.password}`)
    this.log(`  Encryption key: ${record.crypto_key ?? '(none; legacy mode off)'}`)
    this.log(`  Admin:          ${record.is_admin ? 'yes' : 'no'}`)
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
