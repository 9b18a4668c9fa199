import {Flags} from '@oclif/core'

import {clientLabel, NodeCommand, nodeIdArg} from '../cli/node-command.js'

export default class RenameClient extends NodeCommand {
  static override summary = 'Give a client a new friendly name.'
  static override examples = ['<%= config.bin %> <%= command.id %> 3 --name kitchen', '<%= config.bin %> <%= command.id %> 3 --name "living room" --json']
  static override args = {node_id: nodeIdArg}
  static override flags = {
    name: Flags.string({description: 'the new name', required: true}),
  }

  async run(): Promise<{client_id: number; name: string; changed: boolean}> {
    const {args, flags} = await this.parse(RenameClient)
    return this.withDatabase(flags, 'write', async (db) => {
      const target = await this.selectNode(db, args.node_id)
      const {changed, record} = await db.rename(target, flags.name)
      this.log(changed ? `Renamed client ${record.client_id} to "${record.name}".` : `${clientLabel(record)} already has that name.`)
      return {client_id: record.client_id, name: record.name, changed}
    })
  }
}
