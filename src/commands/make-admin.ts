import {flagCommand} from '../cli/permission-commands.js'

export default flagCommand({field: 'is_admin', value: true, summary: 'Make a client an admin.', done: 'is now an admin', already: 'is already an admin'})
