/**
 * One satellite connection: authentication, the handshake state machine (protocol.md §3), frame
 * encryption (§4) and the permission checks on everything it sends and receives (§5).
 *
 * States: auth → shake → (deriving) → hello → ready, or closed from anywhere. Nothing at all is
 * sent before authentication succeeds, and nothing encrypted before the client's hello.
 */
import {randomUUID} from 'node:crypto'

import type WebSocket from 'ws'

import type {ClientRecord} from '../core/client.js'
import type {ClientStore} from '../core/store.js'
import {authenticate, type Credentials, legacyKey} from './auth.js'
import {type Cipher, DecryptError, openBinary, openJson, sealBinary, sealJson} from './ciphers.js'
import {type Encoding, ENCODINGS} from './encodings.js'
import {type CryptoOffer, createEnvelope, deriveSessionKey, handshakeSalt, type KdfLimiter, negotiate, verifyEnvelope} from './handshake.js'
import {errorText, type Logger} from './logger.js'
import {LogBudget} from './log-budget.js'
import {type BusMessage, fromBitstring, type HiveMessage, hiveMessage, isObject, MessageFormatError, parseHiveMessage, toBitstring, toBusMessage} from './messages.js'
import {forwardedMessage, mayInject, mayReceive, mayWrap, type PermissionPolicy, type Permissions} from './permissions.js'

/** Close codes the protocol gives meaning to. */
export const CLOSE = {
  /** Credentials rejected / policy violation. */
  policy: 1008,
  /** Store unavailable or server busy: try again later. */
  tryAgain: 1013,
  /** Server shutting down. */
  goingAway: 1001,
  /** Protocol error (handshake never completed). */
  protocol: 1002,
} as const

/** Bad frames tolerated before the connection is closed. */
export const MAX_BAD_FRAMES = 5
/** Blocked messages of one connection logged and audited one by one per window; the rest are counted. */
export const BLOCKED_REPORTED_PER_WINDOW = 20
/** The window of {@link BLOCKED_REPORTED_PER_WINDOW} (ms). */
export const BLOCKED_WINDOW_MS = 60_000
/** Outgoing bytes buffered for one slow client before messages to it are dropped. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

type State = 'auth' | 'shake' | 'deriving' | 'hello' | 'ready' | 'closed'

/** What a connection needs from the server it belongs to. */
export interface Hub {
  readonly store: ClientStore
  readonly logger: Logger
  readonly offer: CryptoOffer
  readonly kdf: KdfLimiter
  readonly policy: PermissionPolicy
  /** Advertise and accept binary frames. */
  readonly binarize: boolean
  /** This server's name (the `node_id` of hello, the prefix of peers). */
  readonly nodeName: string
  /** Largest decompressed bitstring payload accepted. */
  readonly maxPayload: number
  /** PBKDF2 iterations (100 000 per the protocol; lowered only by tests of unrelated things). */
  readonly kdfIterations: number
  /** Forwards a message to the agent bus. */
  /** Optional: a peer failed to authenticate (bad key, wrong password): rate limiting and the audit trail. */
  authFailed?(session: Session, reason: string): void
  /** Optional: a live client was disconnected because it was revoked or re-keyed ('revoked'), or its record is gone ('removed'). */
  clientRevoked?(session: Session, reason: 'revoked' | 'removed'): void
  /** Optional: logs a connection refused because the store did not answer (within a budget). */
  storeUnavailableAtAuth?(remote: string, error: unknown): void
  /** Optional: a client sent something its permissions do not allow. */
  policyViolation?(session: Session, reason: string, messageType: string): void
  toAgent(message: BusMessage): void
  /** Fans a wrapper message out to every other ready connection. */
  fanOut(from: Session, message: HiveMessage): void
  /** Notes activity of a client (last_seen). */
  touch(clientId: number): void
  /** The session is established (peer known) / closed. */
  ready(session: Session): void
  closed(session: Session): void
}

export class Session {
  state: State = 'auth'
  /** `<node name>::<uuid>`: how the agent addresses replies to this connection. */
  readonly peer: string
  /** Permissions of the client (replaced when the store changes). */
  permissions?: Permissions
  /** The access key this connection authenticated with (compared on refresh; never logged). */
  private accessKey?: string
  private password?: string
  private cryptoKey?: Buffer
  private key?: Buffer
  private cipher: Cipher = 'AES-GCM'
  private encoding: Encoding = 'JSON-HEX'
  private binary = false
  private mode: 'v1' | 'legacy' = 'v1'
  sessionId: string
  siteId?: string
  private badFrames = 0
  /** How many blocked messages are reported one by one (made at the first one: most sessions never have any). */
  private blocked?: LogBudget
  private timer?: NodeJS.Timeout
  /** Messages dropped because they arrived before the client's hello or the socket was congested. */
  droppedOut = 0

  constructor(
    private readonly socket: WebSocket,
    private readonly hub: Hub,
    readonly remote: string,
    handshakeTimeoutMs: number,
    /** The peer's IP address (rate limiting and audit), without the port. */
    readonly address: string = remote,
  ) {
    const uuid = randomUUID()
    this.peer = `${hub.nodeName}::${uuid}`
    this.sessionId = uuid
    this.timer = setTimeout(() => {
      if (this.state !== 'ready') this.close(CLOSE.protocol, 'handshake timeout')
    }, handshakeTimeoutMs)
    this.timer.unref()
    socket.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary))
    socket.on('close', () => this.onSocketClosed())
    socket.on('error', (error) => hub.logger.debug('peer.socket_error', {remote, error: errorText(error)}))
  }

  /** The client id, once authenticated. */
  get clientId(): number | undefined {
    return this.permissions?.client_id
  }

  /** Id and name of the authenticated client (for the audit trail), if any. */
  get clientRef(): {client_id: number; name: string} | undefined {
    return this.permissions ? {client_id: this.permissions.client_id, name: this.permissions.name} : undefined
  }

  /** Whether the handshake is still under way (counts against the pending-handshake cap). */
  get pending(): boolean {
    return this.state !== 'ready' && this.state !== 'closed'
  }

  /** Authenticates with the given credentials, then starts the handshake. */
  async authenticate(credentials: Credentials | undefined): Promise<void> {
    const {logger} = this.hub
    const result = await authenticate(this.hub.store, credentials)
    if (this.state !== 'auth') return
    if (!result.ok) {
      if (result.reason === 'store-unavailable') {
        if (this.hub.storeUnavailableAtAuth) this.hub.storeUnavailableAtAuth(this.remote, result.error)
        else logger.warn('auth.store_unavailable', {remote: this.remote, error: errorText(result.error)})
        this.close(CLOSE.tryAgain, 'store unavailable, retry')
      } else {
        logger.info('auth.rejected', {remote: this.remote, reason: result.reason})
        this.hub.authFailed?.(this, reasonText(result.reason))
        this.close(CLOSE.policy, reasonText(result.reason))
      }
      return
    }
    const {client} = result
    this.accessKey = client.api_key
    // "" is no password (old records hold it as often as null): offering a handshake with it would
    // let the access key alone in, where the client's crypto_key is the secret that should count.
    this.password = client.password || undefined
    this.cryptoKey = legacyKey(client.crypto_key)
    this.permissions = permissionsOf(client)
    logger.info('auth.accepted', {client_id: client.client_id, name: client.name, remote: this.remote, peer: this.peer, user_agent: result.userAgent.slice(0, 100)})
    this.state = 'shake'
    this.sendClear(hiveMessage('hello', {pubkey: '', peer: this.peer, node_id: this.hub.nodeName}))
    this.sendClear(
      hiveMessage('shake', {
        handshake: this.password !== undefined,
        min_protocol_version: 0,
        max_protocol_version: 1,
        binarize: this.hub.binarize,
        preshared_key: this.cryptoKey !== undefined,
        password: this.password !== undefined,
        crypto_required: true,
        encodings: [...this.hub.offer.encodings],
        ciphers: [...this.hub.offer.ciphers],
      }),
    )
  }

  /**
   * Applies a fresh record of this client (the store changed): new permissions, or a close when
   * the client was revoked, deleted or given another key.
   */
  refresh(record: ClientRecord | undefined): void {
    if (this.state === 'closed' || !this.permissions) return
    if (!record || record.api_key !== this.accessKey) {
      // A record that is gone (deleted by hand, the database emptied or replaced) is not a revocation: said apart.
      const reason = record ? 'revoked' : 'removed'
      this.hub.logger.info(`client.${reason}`, {client_id: this.permissions.client_id, name: this.permissions.name, peer: this.peer})
      this.hub.clientRevoked?.(this, reason)
      this.close(CLOSE.policy, `client ${reason}`)
      return
    }
    this.permissions = permissionsOf(record)
  }

  /** Delivers a reply from the agent (message_blacklist applies). */
  deliverBus(message: BusMessage): void {
    if (!this.permissions || !mayReceive(this.permissions, message.type)) {
      this.hub.logger.debug('message.withheld', {client_id: this.clientId, type: message.type})
      return
    }
    this.send(hiveMessage('bus', message))
  }

  /** Sends an encrypted message (dropped before the client's hello or when congested). */
  send(message: HiveMessage): void {
    if (this.state !== 'ready' || !this.key) {
      this.droppedOut++
      return
    }
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.droppedOut++
      this.hub.logger.warn('peer.congested', {client_id: this.clientId, peer: this.peer})
      return
    }
    const bits = this.binary ? toBitstring(message) : undefined
    if (bits) {
      this.socket.send(sealBinary(this.cipher, this.key, bits), {binary: true})
    } else {
      this.socket.send(sealJson(this.cipher, this.encoding, this.key, Buffer.from(JSON.stringify(message), 'utf8')))
    }
  }

  /** Closes once with a code and a short reason. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    if (this.timer) clearTimeout(this.timer)
    try {
      this.socket.close(code, reason)
    } catch {
      this.socket.terminate()
    }
    // A peer that never answers the close frame is cut off.
    setTimeout(() => this.socket.terminate(), 2000).unref()
    this.blocked?.flush()
    this.hub.closed(this)
  }

  // --- inbound --------------------------------------------------------------------------

  private onSocketClosed(): void {
    if (this.state !== 'closed') {
      this.state = 'closed'
      if (this.timer) clearTimeout(this.timer)
      this.blocked?.flush()
      this.hub.closed(this)
    }
    this.hub.logger.debug('peer.closed', {client_id: this.clientId, peer: this.peer})
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    try {
      switch (this.state) {
        case 'shake': {
          this.onShakeFrame(data, isBinary)
          break
        }
        case 'hello':
        case 'ready': {
          this.onEncryptedFrame(data, isBinary)
          break
        }
        default: {
          // Before authentication or while deriving the key: a client has nothing to say yet.
          this.hub.logger.debug('frame.early', {remote: this.remote, state: this.state})
        }
      }
    } catch (error) {
      // A bug must not take the listener down; the peer is cut off instead.
      this.hub.logger.error('session.error', {client_id: this.clientId, error: errorText(error)})
      this.close(1011, 'internal error')
    }
  }

  private badFrame(why: string): void {
    this.badFrames++
    this.hub.logger.debug('frame.bad', {client_id: this.clientId, why, count: this.badFrames})
    if (this.badFrames >= MAX_BAD_FRAMES) {
      this.hub.logger.info('peer.too_many_bad_frames', {client_id: this.clientId, peer: this.peer})
      this.close(CLOSE.policy, 'too many bad frames')
    }
  }

  private onShakeFrame(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.badFrame('binary frame before the handshake')
    let value: unknown
    try {
      value = JSON.parse(data.toString('utf8'))
    } catch {
      return this.badFrame('not JSON')
    }
    if (isObject(value) && 'ciphertext' in value) return this.tryLegacy(value)
    let message: HiveMessage
    try {
      message = parseHiveMessage(data.toString('utf8'))
    } catch {
      return this.badFrame('not a HiveMessage')
    }
    if (message.msg_type !== 'shake') return this.badFrame(`${message.msg_type} in clear`)
    void this.onClientShake(isObject(message.payload) ? message.payload : {})
  }

  /** Protocol 0: the first frame is encrypted with the record's pre-shared crypto_key. */
  private tryLegacy(envelope: Record<string, unknown>): void {
    if (!this.cryptoKey) return this.badFrame('encrypted frame, but the client has no crypto key')
    // The protocol fixes AES-GCM for this mode: a hub that does not allow it (server.json's
    // allowed_ciphers) refuses the mode too, rather than let it bypass the restriction (QA).
    if (!this.hub.offer.ciphers.includes('AES-GCM')) {
      this.hub.logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'crypto_key mode uses AES-GCM, which this hub does not allow'})
      return this.close(CLOSE.policy, 'cipher not allowed')
    }
    for (const encoding of ENCODINGS.filter((allowed) => this.hub.offer.encodings.includes(allowed))) {
      let plaintext: Buffer
      try {
        plaintext = openJson('AES-GCM', encoding, this.cryptoKey, envelope)
      } catch {
        continue
      }
      this.key = this.cryptoKey
      this.cipher = 'AES-GCM'
      this.encoding = encoding
      this.mode = 'legacy'
      this.becomeReady()
      this.onPlaintext(plaintext, false)
      return
    }
    // The first frame of a legacy client is its proof of the crypto key: one that does not
    // decrypt is a wrong key, counted and audited like a wrong password (guesses were otherwise
    // five free tries per connection, never blocked nor recorded).
    this.hub.logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'wrong crypto key'})
    this.hub.authFailed?.(this, 'wrong crypto key')
    this.close(CLOSE.policy, 'wrong crypto key')
  }

  private async onClientShake(payload: Record<string, unknown>): Promise<void> {
    const {logger} = this.hub
    if (this.password === undefined) {
      logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'no password for this client'})
      return this.close(CLOSE.policy, 'password handshake not available')
    }
    const peerIv = verifyEnvelope(payload.envelope, this.password)
    if (!peerIv) {
      logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'wrong password'})
      this.hub.authFailed?.(this, 'wrong password')
      return this.close(CLOSE.policy, 'wrong password')
    }
    const choice = negotiate(payload.encodings, payload.ciphers, this.hub.offer)
    if (!choice) {
      logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'no common cipher or encoding'})
      return this.close(CLOSE.policy, 'no common cipher or encoding')
    }
    if (!this.hub.kdf.hasRoom()) {
      logger.warn('handshake.busy', {client_id: this.clientId})
      return this.close(CLOSE.tryAgain, 'server busy, retry')
    }
    this.state = 'deriving'
    const own = createEnvelope(this.password)
    const password = this.password
    let key: Buffer
    try {
      key = await this.hub.kdf.run(() => deriveSessionKey(password, handshakeSalt(own.iv, peerIv), this.hub.kdfIterations))
    } catch (error) {
      logger.error('handshake.kdf_failed', {client_id: this.clientId, error: errorText(error)})
      return this.close(1011, 'internal error')
    }
    if (this.state !== 'deriving') return
    this.key = key
    this.cipher = choice.cipher
    this.encoding = choice.encoding
    this.binary = this.hub.binarize && payload.binarize === true
    this.state = 'hello'
    this.sendClear(hiveMessage('shake', {envelope: own.envelope, encoding: choice.encoding, cipher: choice.cipher, binarize: this.binary}))
    logger.debug('handshake.done', {client_id: this.clientId, cipher: choice.cipher, encoding: choice.encoding, binarize: this.binary})
  }

  private onEncryptedFrame(data: Buffer, isBinary: boolean): void {
    let plaintext: Buffer
    try {
      if (isBinary) {
        if (!this.binary) return this.badFrame('binary frame without binarize')
        plaintext = openBinary(this.cipher, this.key!, data)
      } else {
        const envelope: unknown = JSON.parse(data.toString('utf8'))
        if (!isObject(envelope) || !('ciphertext' in envelope)) return this.badFrame('clear frame after the handshake')
        plaintext = openJson(this.cipher, this.encoding, this.key!, envelope)
      }
    } catch (error) {
      return this.badFrame(error instanceof DecryptError ? 'did not decrypt' : 'not JSON')
    }
    this.onPlaintext(plaintext, isBinary)
  }

  private onPlaintext(plaintext: Buffer, isBinary: boolean): void {
    let message: HiveMessage
    try {
      message = isBinary ? fromBitstring(plaintext, this.hub.maxPayload) : parseHiveMessage(plaintext.toString('utf8'))
    } catch (error) {
      return this.badFrame(error instanceof MessageFormatError ? error.message : 'bad message')
    }
    this.handle(message)
  }

  private becomeReady(): void {
    this.state = 'ready'
    if (this.timer) clearTimeout(this.timer)
    this.hub.ready(this)
    this.hub.touch(this.clientId!)
    this.hub.logger.info('client.connected', {client_id: this.clientId, name: this.permissions!.name, peer: this.peer, mode: this.mode, cipher: this.cipher, encoding: this.encoding, binarize: this.binary})
  }

  private onHello(payload: unknown): void {
    const hello = isObject(payload) ? payload : {}
    const session = isObject(hello.session) ? hello.session : {}
    const sessionId = session.session_id
    if (sessionId === 'default' && !this.permissions!.is_admin) {
      this.hub.logger.info('handshake.rejected', {client_id: this.clientId, remote: this.remote, reason: 'default session from a non-admin'})
      return this.close(CLOSE.policy, 'the default session is reserved for admins')
    }
    if (typeof sessionId === 'string' && sessionId !== '' && sessionId.length <= 200) this.sessionId = sessionId
    const site = hello.site_id ?? session.site_id
    if (typeof site === 'string') this.siteId = site.slice(0, 200)
    if (this.state === 'hello') this.becomeReady()
  }

  /** Dispatches a decrypted message (protocol.md §5). */
  private handle(message: HiveMessage): void {
    const {logger} = this.hub
    const permissions = this.permissions!
    if (message.msg_type === 'hello') return this.onHello(message.payload)
    if (this.state === 'hello') {
      // Only the client's hello completes the handshake; anything else first is a protocol slip.
      return this.badFrame(`${message.msg_type} before hello`)
    }
    this.hub.touch(permissions.client_id)
    logger.debug('message.in', {client_id: permissions.client_id, msg_type: message.msg_type})
    switch (message.msg_type) {
      case 'bus': {
        this.inject(message.payload, 'bus')
        break
      }
      case 'broadcast':
      case 'propagate':
      case 'escalate': {
        if (!mayWrap(permissions, message.msg_type, this.hub.policy)) {
          this.messageBlocked({msg_type: message.msg_type, reason: 'not permitted'}, `${message.msg_type} not permitted`, message.msg_type)
          return
        }
        if (message.msg_type === 'escalate') {
          // This hub is the top of its hive: an escalated bus message is handled by its agent.
          const inner = isObject(message.payload) ? message.payload : {}
          if (inner.msg_type === 'bus') this.inject(inner.payload, 'escalate')
          return
        }
        this.hub.fanOut(this, {...message, route: [...message.route, {source: this.peer, targets: ['*']}], source_peer: this.peer})
        break
      }
      default: {
        // shared_bus (a passive copy), ping, query, intercom...: accepted, not forwarded.
        break
      }
    }
  }

  /** Checks and forwards a bus message to the agent. */
  private inject(payload: unknown, via: string): void {
    const permissions = this.permissions!
    const bus = toBusMessage(payload)
    if (!bus) return this.badFrame('bus payload is not a message object')
    if (!mayInject(permissions, bus.type)) {
      this.messageBlocked({type: bus.type, via, reason: 'type not in allowed_types'}, 'type not in allowed_types', bus.type)
      return
    }
    this.hub.toAgent(forwardedMessage(bus, permissions, this.peer, this.sessionId))
  }

  /**
   * A message the client may not send: logged and audited one by one up to a limit per window,
   * then counted and said once. Any enrolled satellite could otherwise fill the disk with log and
   * audit lines (20,000 blocked messages in 0.7 s gave 20,000 log lines and 4.5 MB of audit trail).
   */
  private messageBlocked(fields: Record<string, unknown>, reason: string, messageType: string): void {
    this.blocked ??= new LogBudget(BLOCKED_REPORTED_PER_WINDOW, BLOCKED_WINDOW_MS, (count) => {
      // One line (and one audit entry) for the blocked messages not reported one by one.
      const permissions = this.permissions!
      this.hub.logger.warn('message.blocked_unreported', {client_id: permissions.client_id, name: permissions.name, count, window_ms: BLOCKED_WINDOW_MS})
      this.hub.policyViolation?.(this, `${count} more blocked message(s) not recorded one by one`, '*')
    })
    if (!this.blocked.take()) return
    const permissions = this.permissions!
    this.hub.logger.info('message.blocked', {client_id: permissions.client_id, name: permissions.name, ...fields})
    this.hub.policyViolation?.(this, reason, messageType)
  }

  private sendClear(message: HiveMessage): void {
    this.socket.send(JSON.stringify(message))
  }
}

function permissionsOf(record: ClientRecord): Permissions {
  return {
    client_id: record.client_id,
    name: record.name,
    is_admin: record.is_admin,
    allowed_types: [...record.allowed_types],
    skill_blacklist: [...record.skill_blacklist],
    intent_blacklist: [...record.intent_blacklist],
    message_blacklist: [...record.message_blacklist],
    can_broadcast: record.can_broadcast,
    can_propagate: record.can_propagate,
    can_escalate: record.can_escalate,
  }
}

function reasonText(reason: string): string {
  switch (reason) {
    case 'malformed': {
      return 'missing or malformed authorization'
    }
    case 'revoked': {
      return 'access key revoked'
    }
    case 'no-secret': {
      return 'client has no password or crypto key'
    }
    default: {
      return 'invalid access key'
    }
  }
}
