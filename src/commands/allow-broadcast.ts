import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_broadcast', value: true, summary: 'Allow a client to broadcast bus messages.', done: 'may now broadcast', already: 'may already broadcast'})
