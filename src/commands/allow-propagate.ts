import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_propagate', value: true, summary: 'Allow a client to propagate bus messages.', done: 'may now propagate', already: 'may already propagate'})
