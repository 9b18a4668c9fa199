import {listCommand} from '../cli/permission-commands.js'

export default listCommand({
  field: 'intent_blacklist',
  operation: 'remove',
  summary: 'Allow a client to trigger an intent (remove it from the intent blacklist).',
  argName: 'INTENT_ID',
  argDescription: 'skill_id:intent_name, e.g. skill-weather.openvoiceos:weather.intent',
  example: 'skill-weather.openvoiceos:weather.intent',
  done: 'may now trigger intent',
  already: 'may already trigger intent',
})
