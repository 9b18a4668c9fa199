import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'can_escalate', value: true, summary: 'Allow a client to escalate bus messages.', done: 'may now escalate', already: 'may already escalate'})
