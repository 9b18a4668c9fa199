import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'intent_blacklist',
  operation: 'add',
  summary: 'Forbid a client to trigger an intent (add it to the intent blacklist).',
  argName: 'INTENT_ID',
  argDescription: 'skill_id:intent_name, e.g. skill-weather.openvoiceos:weather.intent',
  example: 'skill-weather.openvoiceos:weather.intent',
  done: 'may no longer trigger intent',
  already: 'already may not trigger intent',
})
