import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'is_admin', value: false, summary: 'Take admin rights away from a client.', done: 'is no longer an admin', already: 'is not an admin'})
