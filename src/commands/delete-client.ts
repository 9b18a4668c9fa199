import {Flags} from '@oclif/core'

import {clientLabel, NodeCommand, nodeIdArg} from '../cli/node-command.js'
import {CancelledError, UsageError} from '../core/errors.js'

/** What `delete-client --json` prints. */
export interface DeleteClientResult {
  client_id: number
  name: string
  revoked: boolean
  changed: boolean
}

export default class DeleteClient extends NodeCommand {
  static override summary = 'Revoke a client: its access key stops working at once.'
  static override description = `The record stays as a tombstone (access key "revoked", secrets cleared) so its id is never reused.
Asks for confirmation on a terminal; scripts must pass --yes.`
  static override examples = ['<%= config.bin %> <%= command.id %> 3', '<%= config.bin %> <%= command.id %> 3 --yes']
  static override args = {node_id: nodeIdArg}
  static override flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask for confirmation', default: false}),
  }

  async run(): Promise<DeleteClientResult> {
    const {args, flags} = await this.parse(DeleteClient)
    return this.withDatabase(flags, 'write', async (db) => {
      const target = await this.selectNode(db, args.node_id, {onlyClientImplied: false})
      if (target.api_key !== 'revoked' && !flags.yes) {
        if (!this.interactive()) {
          throw new UsageError(`refusing to revoke ${clientLabel(target)} without confirmation`, {suggestion: 'pass --yes to confirm in a script'})
        }
        const {confirm} = await import('@inquirer/prompts')
        const total = await db.store.count()
        const warning = total === 1 ? ' It is the ONLY client of this hive.' : ''
        if (!(await confirm({message: `Revoke ${clientLabel(target)}?${warning} Its satellite will be locked out.`, default: false}))) {
          throw new CancelledError()
        }
      }
      const {changed, record} = await db.revoke(target)
      this.log(changed ? `Revoked ${clientLabel(record)}; its access key no longer works.` : `${clientLabel(record)} was already revoked.`)
      return {client_id: record.client_id, name: record.name, revoked: true, changed}
    })
  }
}
