import {Flags} from '@oclif/core'

import {StoreCommand} from '../base-command.js'
import {HivemindError, InvalidInputError, UsageError} from '../core/errors.js'
import {resolveSettings, type ResolvedSettings, selectedDatabase} from '../config/settings.js'
import {checkAgentUrl} from '../server/agent-bus.js'
import {openListenerAudit} from '../server/audit.js'
import {AUTH_LIMITER_DEFAULTS, AuthFailureLimiter} from '../server/auth-limiter.js'
import {HANDSHAKE_GATE_DEFAULTS, HandshakeGate} from '../server/handshake-gate.js'
import {createLogger, LOG_LEVELS, type Logger, type LogLevel} from '../server/logger.js'
import {type CryptoOffer, DEFAULT_OFFER} from '../server/handshake.js'
import {DEFAULT_MAX_PAYLOAD, HiveServer} from '../server/server.js'
import {loadTlsMaterial, type TlsMaterial} from '../server/tls-files.js'
import {offerAllowedBy} from '../server/upstream-frames.js'

export default class Listen extends StoreCommand {
  static override summary = 'Serve satellites: authenticate them against the client database and relay their messages to the agent bus.'
  static override description = `Resolves the database exactly as add-client does (flags > environment > config file > defaults) and says which on startup.
Satellites connect over WebSocket with ?authorization=BASE64(useragent:access_key) and run the HiveMind protocol-1 password handshake (or the legacy crypto_key mode).
Changes made by other commands (add-client, delete-client, allow-*/blacklist-*) apply to live connections within a second, without a restart.
Logs are JSON lines on stderr. SIGINT/SIGTERM shut down gracefully (peers closed with 1001, last_seen flushed). See docs/listen.md.`

  static override enableJsonFlag = false

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --port 5678 --agent-url ws://127.0.0.1:8181/core',
    '<%= config.bin %> <%= command.id %> --db-backend redis --redis-url redis://127.0.0.1:6379/0 --log-level debug',
    '<%= config.bin %> <%= command.id %> --ssl --cert hub.crt --key hub.key',
  ]

  static override flags = {
    host: Flags.string({description: 'interface to bind (default 0.0.0.0; env HIVEMIND_LISTEN_HOST, config listen.host)'}),
    port: Flags.integer({description: 'TCP port, 0 = any free port (default 5678; env HIVEMIND_LISTEN_PORT, config listen.port)', min: 0, max: 65_535}),
    'agent-url': Flags.string({description: 'OpenVoiceOS message bus (default ws://127.0.0.1:8181/core; env HIVEMIND_AGENT_URL, config agent.url)'}),
    ssl: Flags.boolean({description: 'serve wss:// (needs --cert and --key); --no-ssl serves ws:// even where the Python hub\'s server.json says ssl', allowNo: true}),
    cert: Flags.string({description: 'PEM certificate for --ssl'}),
    key: Flags.string({description: 'PEM private key for --ssl'}),
    'log-level': Flags.string({description: 'log verbosity', options: [...LOG_LEVELS], default: 'info'}),
    binarize: Flags.boolean({description: 'offer binary frames to clients that ask for them (default: no, or the Python hub\'s server.json "binarize")', allowNo: true}),
    'client-broadcast': Flags.boolean({description: 'let non-admin clients with can_broadcast broadcast (default: admins only)', default: false}),
    'last-seen-interval': Flags.integer({description: 'seconds between two last_seen writes for one client', default: 60, min: 1}),
    'max-frame-bytes': Flags.integer({description: 'largest frame a satellite may send', default: DEFAULT_MAX_PAYLOAD, min: 1024}),
    'max-auth-failures': Flags.integer({description: 'failed authentications per address per minute before it is refused', default: AUTH_LIMITER_DEFAULTS.maxFailures, min: 1}),
    'auth-cool-off': Flags.integer({description: 'seconds a refused address stays refused', default: AUTH_LIMITER_DEFAULTS.coolOffMs / 1000, min: 1}),
    'max-handshakes': Flags.integer({description: 'handshakes in flight at once (key derivation is expensive)', default: HANDSHAKE_GATE_DEFAULTS.maxInFlight, min: 1}),
    'max-handshakes-per-address': Flags.integer({description: 'handshakes in flight from one address', default: HANDSHAKE_GATE_DEFAULTS.maxPerAddress, min: 1}),
  }

  /** Set once the log format is known: from then on, notices are log lines too. */
  private logger?: Logger

  /**
   * listen's stderr is JSON lines (one event per line, for journald and log shippers): the notices
   * every command prints as text (a persistence warning, the agreement guard) become events there.
   * The "Database:" line is the `listener.database` event already.
   */
  protected override notice(message: string): void {
    if (!this.logger) return super.notice(message)
    if (message.startsWith('Database: ')) return
    if (message.startsWith('Warning: ')) this.logger.warn('listener.warning', {message: message.slice('Warning: '.length)})
    else this.logger.info('listener.notice', {message: message.trim()})
  }

  /** --ssl / --no-ssl as given (undefined: neither). */
  private sslFlag?: boolean
  /** The certificate of the Python hub's server.json, when it serves wss:// and no --ssl / --no-ssl was given. */
  private upstreamTls?: TlsMaterial

  /** The ciphers and encodings offered to satellites: all of ours, less what server.json's allowed_* leave out. */
  private offer: CryptoOffer = DEFAULT_OFFER

  protected override checkSettings(settings: ResolvedSettings): void {
    checkAgentUrl(settings.agent.url, settings.cwd)
    const upstream = settings.upstream
    this.offer = offerAllowedBy(upstream)
    for (const transport of upstream?.otherTransports ?? []) {
      this.notice(`Warning: ${upstream!.file}: network_protocol.${transport} is not served: hivemind-core serves satellites over WebSocket only, so those of that transport cannot connect`)
    }
    if (this.sslFlag !== undefined || !upstream?.tls) return
    // The Python hub served wss:// there: its satellites would fail to connect to ws://.
    try {
      this.upstreamTls = loadTlsMaterial(upstream.tls.certFile, upstream.tls.keyFile)
    } catch (error) {
      throw new InvalidInputError(`${upstream.file} serves wss:// ("ssl": true), and its certificate cannot be used: ${(error as Error).message.replace(/^--(cert|key) /, '')}`, {
        suggestion: `hivemind-core does not generate certificates: put the PEM files at ${upstream.tls.certFile} and ${upstream.tls.keyFile}, or pass --ssl --cert FILE --key FILE, or --no-ssl to serve ws://`,
      })
    }
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Listen)
    if (flags.ssl && (!flags.cert || !flags.key)) throw new UsageError('--ssl needs --cert and --key')
    if (!flags.ssl && (flags.cert || flags.key)) throw new UsageError('--cert and --key only apply with --ssl')
    // Before the store is opened: a bad certificate must not cost a database open (or a lock).
    this.sslFlag = flags.ssl
    const tls = flags.ssl ? loadTlsMaterial(flags.cert!, flags.key!) : undefined
    const logger = createLogger(flags['log-level'] as LogLevel)
    this.logger = logger
    // 'write': last_seen is written, and a database that does not exist yet is created where
    // add-client will create it, so clients added later are seen without a restart.
    await this.withDatabase(
      flags,
      'write',
      async (_db, opened) => {
        const settings = this.settings
        logger.info('listener.database', {database: opened.description})
        // Failed authentications, policy violations and revocations go to the audit trail.
        const audit = await openListenerAudit(settings, {onError: (error) => logger.warn('audit.failed', {error: String(error)}), warn: (message) => logger.warn('audit.warning', {message})})
        const server = new HiveServer({
          authLimiter: new AuthFailureLimiter({maxFailures: flags['max-auth-failures'], coolOffMs: flags['auth-cool-off'] * 1000}),
          handshakeGate: new HandshakeGate({maxInFlight: flags['max-handshakes'], maxPerAddress: flags['max-handshakes-per-address']}),
          audit,
          store: opened.store,
          logger,
          host: settings.listen.host.value,
          port: settings.listen.port.value,
          agentUrl: settings.agent.url.value,
          tls: tls ?? this.upstreamTls,
          binarize: flags.binarize ?? settings.upstream?.binarize?.value ?? false,
          offer: this.offer,
          policy: {clientBroadcast: flags['client-broadcast']},
          lastSeenIntervalMs: flags['last-seen-interval'] * 1000,
          maxPayload: flags['max-frame-bytes'],
        })
        try {
          await server.start()
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          throw new HivemindError('INVALID_INPUT', `cannot listen on ${settings.listen.host.value}:${settings.listen.port.value}${code ? ` (${code})` : ''}`, {
            cause: error,
            suggestion: code === 'EADDRINUSE' ? 'another process uses that port: pick another with --port' : 'check --host / --port',
          })
        }
        let stopping = false
        let stopped: () => void = () => {}
        // The settings may come to select another database while this runs: migrate-db --switch,
        // an edited config file, a new default location. Serving the old one would accept keys
        // revoked in the new one since, and refuse clients added there: such a listener stops,
        // loudly, for its supervisor to start it again on the database every command now uses.
        const serving = selectedDatabase(settings)
        const settingsWatch = setInterval(() => {
          void (async () => {
            let now: ResolvedSettings
            try {
              now = await resolveSettings({flags: flags as Record<string, unknown>, env: process.env, cwd: settings.cwd, registry: await this.registry()})
            } catch {
              // A config file caught mid-edit (or broken): looked at again next time; the database in use is unchanged.
              return
            }
            const configured = selectedDatabase(now)
            if (stopping || configured === serving) return
            stopping = true
            process.exitCode = 1
            logger.error('settings.changed', {serving, configured, message: 'the settings now select another database; stopping rather than serve the old one (revocations made in the new one would not apply here): start listen again'})
            void server.stop().then(() => audit.close()).then(stopped)
          })()
        }, SETTINGS_CHECK_MS)
        settingsWatch.unref()
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopping) {
            // A second signal while shutting down: the operator wants out now.
            logger.warn('listener.forced', {signal})
            process.exit(1)
          }
          stopping = true
          logger.info('listener.signal', {signal})
          void server.stop().then(() => audit.close()).then(stopped)
        }
        // The handlers stay installed until the shutdown is done. signal-exit, which write-file-atomic
        // registers for the length of every JSON write, re-raises a signal that finds no handler but
        // its own: a handler that removed itself on the first signal let a SIGINT that arrived
        // during a write kill the process mid-shutdown.
        try {
          await new Promise<void>((resolve) => {
            stopped = resolve
            process.on('SIGINT', onSignal)
            process.on('SIGTERM', onSignal)
          })
        } finally {
          clearInterval(settingsWatch)
          process.off('SIGINT', onSignal)
          process.off('SIGTERM', onSignal)
        }
      },
      {longRunning: true},
    )
  }
}

/** How often a running listener checks which database the settings select. */
const SETTINGS_CHECK_MS = 5000
