/**
 * Base of commands that act on one client named by NODE_ID (a client id or an access key).
 */
import {Args} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import type {ClientRecord} from '../core/client.js'
import type {ClientDatabase} from '../core/database.js'
import {InvalidInputError, UsageError} from '../core/errors.js'
import {oneLine} from './printable.js'

/** The NODE_ID positional argument (optional: the only client of a hive of one, else a terminal gets a picker). */
export const nodeIdArg = Args.string({
  name: 'NODE_ID',
  description: 'client id or access key (omit it: the only client of a hive of one, else a list to pick from on a terminal)',
  required: false,
})

export abstract class NodeCommand extends StoreCommand {
  /**
   * The client NODE_ID names. Without NODE_ID: the only client of a hive of one (unless
   * `onlyClientImplied` is false; default true), else an interactive picker on a terminal, a
   * usage error (exit 2) in a script.
   */
  protected async selectNode(db: ClientDatabase, nodeId: string | undefined, {onlyClientImplied = true}: {onlyClientImplied?: boolean} = {}): Promise<ClientRecord> {
    if (nodeId !== undefined) return db.findNode(nodeId)
    // As the Python hivemind-core does (its README's own example is `blacklist-msg "speak"`):
    // a hive of one client needs no NODE_ID, in a script or on a terminal. Said, never silent.
    // Not for revoking: upstream revoking the only client unasked is a defect we fix.
    if (onlyClientImplied && (await db.store.count()) === 1) {
      const [only] = await db.all()
      if (only) {
        this.notice(`Note: no NODE_ID given: using the hive's only client, ${clientLabel(only)}`)
        return only
      }
    }
    if (!this.interactive()) {
      throw new UsageError('missing NODE_ID (a client id or an access key)', {suggestion: 'see the ids with: hivemind-core list-clients'})
    }
    const clients = await db.all()
    if (clients.length === 0) throw new InvalidInputError('there are no clients yet', {suggestion: 'enrol one with: hivemind-core add-client'})
    const {select} = await import('@inquirer/prompts')
    const id = await select({
      message: 'Which client?',
      // The prompt writes to the terminal itself, past the escaping of this.log.
      choices: clients.map((client) => ({name: `${client.client_id}  ${oneLine(client.name)}${client.is_admin ? '  (admin)' : ''}`, value: client.client_id})),
    })
    return db.findNode(String(id))
  }
}

/** "client 3 (kitchen)" — how commands name a client in messages. */
export function clientLabel(record: ClientRecord): string {
  return `client ${record.client_id}${record.name ? ` (${oneLine(record.name)})` : ''}`
}
