import {resolveSourcedAuditSettings} from '../audit/settings.js'
import {StoreCommand} from '../base-command.js'
import {maskSettingValue} from '../cli/output.js'
import {renderTable} from '../cli/table.js'
import {CONFIG_MODULE_NAME} from '../config/load.js'
import {describeSource, type SettingSource, type Sourced} from '../config/settings.js'

/** One resolved setting as `print-config --json` prints it. */
export interface PrintedSetting {
  key: string
  value: unknown
  source: SettingSource
  /** The source in words: "flag --db-path", "env HIVEMIND_DB_PATH", "./.hivemindrc.json database.sqlite.path", "default". */
  from: string
}

export default class PrintConfig extends StoreCommand {
  static override summary = 'Print the resolved settings and where each one comes from.'
  static override description = `Resolves the settings exactly as every other command does (flags > environment > config file > defaults) and shows, for each, its value and origin. Secrets are masked.`
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --db-backend json --json']

  async run(): Promise<{configFile: string | null; settings: PrintedSetting[]}> {
    const {flags} = await this.parse(PrintConfig)
    const settings = await this.resolve(flags)
    const {descriptor} = settings.registered
    const rows: PrintedSetting[] = []
    const add = (key: string, sourced: Sourced<unknown>, secret = false) =>
      rows.push({key, value: maskSettingValue(sourced.value, secret), source: sourced.source, from: describeSource(sourced.source, settings.cwd)})
    add('database.backend', settings.backend)
    for (const [key, sourced] of Object.entries(settings.backendOptions)) {
      add(`database.${descriptor.name}.${key}`, sourced, descriptor.optionsSchema[key]?.secret === true)
    }
    add('listen.host', settings.listen.host)
    add('listen.port', settings.listen.port)
    add('agent.url', settings.agent.url)
    const audit = resolveSourcedAuditSettings(settings)
    add('audit.file', audit.file)
    add('audit.redisStream', audit.redisStream)
    add('audit.streamMaxLen', audit.streamMaxLen)

    this.log(
      settings.configFile
        ? `Config file: ${settings.configFile.path}${settings.configFile.how === 'explicit' ? ' (named by --config / HIVEMIND_CONFIG)' : ''}`
        : `Config file: none (searched .${CONFIG_MODULE_NAME}rc* and ${CONFIG_MODULE_NAME}.config.* from ${settings.cwd} upwards, then the per-user config directory)`,
    )
    this.log(renderTable(['setting', 'value', 'from'], rows.map((row) => [row.key, row.value === null || row.value === undefined ? '(unset)' : String(row.value), row.from])))
    return {configFile: settings.configFile?.path ?? null, settings: rows}
  }
}
