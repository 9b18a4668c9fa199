/**
 * The listener: a WebSocket server for satellites, wired to the client store (authentication,
 * permissions, live changes, last_seen) and to the agent bus. `hivemind-core listen` builds one
 * from resolved settings; tests build one directly on a real store.
 */
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import type {Duplex} from 'node:stream'

import {WebSocketServer} from 'ws'

import {isHivemindError} from '../core/errors.js'
import {maskUrlSecrets} from '../core/redact.js'
import type {ClientStore} from '../core/store.js'
import {AgentBus} from './agent-bus.js'
import type {ListenerAudit} from './audit.js'
import {addressKey, type AuthFailureLimiter} from './auth-limiter.js'
import {parseAuthorization} from './auth.js'
import {DEFAULT_OFFER, type CryptoOffer, KDF_ITERATIONS, KdfLimiter} from './handshake.js'
import type {HandshakeGate} from './handshake-gate.js'
import {DEFAULT_LAST_SEEN_INTERVAL_MS, LastSeenWriter} from './last-seen.js'
import {LogBudget} from './log-budget.js'
import {errorText, type Logger} from './logger.js'
import {type BusMessage, type HiveMessage, isObject, toBusMessage} from './messages.js'
import {destinations, mayReceive, type PermissionPolicy} from './permissions.js'
import {DEFAULT_POLL_INTERVAL_MS, RevisionPoller} from './revision-poller.js'
import {CLOSE, type Hub, Session} from './session.js'
import type {TlsMaterial} from './tls-files.js'

/** Everything the listener can be told. Defaults in brackets. */
export interface ListenerOptions {
  store: ClientStore
  logger: Logger
  /** Interface to bind [0.0.0.0]. */
  host: string
  /** TCP port; 0 picks a free one [5678]. */
  port: number
  /** OpenVoiceOS message bus URL. */
  agentUrl: string
  /** Serve wss:// with this certificate and key (PEM contents; see loadTlsMaterial). */
  tls?: TlsMaterial
  /** Advertise and accept binary frames [false]. */
  binarize?: boolean
  /** Encodings and ciphers allowed, in order of preference [all supported]. */
  offer?: CryptoOffer
  policy?: Partial<PermissionPolicy>
  /** last_seen write interval per client [60000]. */
  lastSeenIntervalMs?: number
  /** Per-address limit of failed authentications (absent: no limit). */
  authLimiter?: AuthFailureLimiter
  /** Cap of handshakes in flight, in total and per address (absent: only maxPendingHandshakes). */
  handshakeGate?: HandshakeGate
  /** Where authentication failures, policy violations and revocations are recorded. */
  audit?: ListenerAudit
  /** Store revision polling interval [250]. */
  pollIntervalMs?: number
  /** Largest frame accepted from a satellite, bytes [4 MiB]. */
  maxPayload?: number
  /** Connections still authenticating or handshaking at once; more are refused with 1013 [256]. */
  maxPendingHandshakes?: number
  /** Time a connection has to complete the handshake [30000]. */
  handshakeTimeoutMs?: number
  /**
   * Time a new connection has to send its whole WebSocket upgrade request, TLS handshake included
   * [10000]. Node's own defaults (60 s for the headers, checked every 30 s; 120 s for a TLS
   * handshake) let a peer that connects and sends nothing, or a byte at a time, hold a socket for
   * minutes.
   */
  upgradeTimeoutMs?: number
  /** Name of this hub [hivemind-core@<hostname>]. */
  nodeName?: string
  /** Key derivations running at once [2]. */
  kdfConcurrency?: number
  /** PBKDF2 iterations [100000, the protocol's]. */
  kdfIterations?: number
}

export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024

/** One peer.refused line per address per window for handshake-gate refusals (ms). */
const GATE_LOG_WINDOW_MS = 60_000

export class HiveServer implements Hub {
  readonly store: ClientStore
  readonly logger: Logger
  readonly offer: CryptoOffer
  readonly kdf: KdfLimiter
  readonly policy: PermissionPolicy
  readonly binarize: boolean
  readonly nodeName: string
  readonly maxPayload: number
  readonly kdfIterations: number
  readonly lastSeen: LastSeenWriter
  readonly agent: AgentBus
  private readonly poller: RevisionPoller
  private readonly sessions = new Set<Session>()
  /** Connections refused because the store did not answer: any peer can cause them, unauthenticated (QA: 1,000 lines in 2.6 s). */
  private readonly authUnavailableLog = new LogBudget(20, 60_000, (count) => {
    this.logger.warn('auth.store_unavailable_unreported', {count, window_ms: 60_000})
  })
  private readonly byPeer = new Map<string, Session>()
  /** Authenticated sessions per client id: last_seen is flushed when a client's last one closes. */
  private readonly sessionsByClient = new Map<number, Set<Session>>()
  private httpServer?: http.Server | https.Server
  private wss?: WebSocketServer
  private pendingCount = 0
  private stopping?: Promise<void>
  /** Release functions of the handshake gate's slots, by session (released on ready or close). */
  private readonly handshakeSlots = new Map<Session, () => void>()
  /** Addresses the handshake gate refused: when one was last logged, and how many since. */
  private readonly gateRefusals = new Map<string, {loggedAt: number; unlogged: number}>()
  private sweeper?: NodeJS.Timeout

  constructor(private readonly options: ListenerOptions) {
    this.store = options.store
    this.logger = options.logger
    this.offer = options.offer ?? DEFAULT_OFFER
    this.kdf = new KdfLimiter(options.kdfConcurrency ?? 2, options.maxPendingHandshakes ?? 256)
    this.policy = {clientBroadcast: options.policy?.clientBroadcast ?? false}
    this.binarize = options.binarize ?? false
    this.nodeName = options.nodeName ?? `hivemind-core@${os.hostname()}`
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD
    this.kdfIterations = options.kdfIterations ?? KDF_ITERATIONS
    this.lastSeen = new LastSeenWriter(this.store, this.logger, options.lastSeenIntervalMs ?? DEFAULT_LAST_SEEN_INTERVAL_MS)
    this.agent = new AgentBus({url: options.agentUrl, logger: this.logger})
    this.agent.onMessage((message) => this.fromAgent(message))
    this.poller = new RevisionPoller(this.store, () => this.refresh(), this.logger, options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS, (error) => this.storeUnusable(error))
  }

  /** Connected, fully established sessions. */
  get clients(): number {
    return this.byPeer.size
  }

  /**
   * Destroys a connection that has not made its upgrade request within `timeoutMs`. Node's header
   * timeout only starts with the request's first byte: a peer that connects (over TLS: completes
   * the TLS handshake, which `handshakeTimeout` bounds) and sends nothing was kept forever.
   */
  private dropPeersSlowToUpgrade(server: http.Server, tls: boolean, timeoutMs: number): void {
    // Everything kept for a connection is let go at its upgrade: 10k idle satellites must not
    // carry a timer, a listener and a map entry each (P9b measured ~0.5 KiB per connection).
    const pending = new WeakMap<Duplex, () => void>()
    server.on(tls ? 'secureConnection' : 'connection', (socket: Duplex) => {
      const timer = setTimeout(() => socket.destroy(), timeoutMs)
      timer.unref()
      const cancel = () => clearTimeout(timer)
      pending.set(socket, cancel)
      socket.once('close', cancel)
    })
    server.on('upgrade', (_request: http.IncomingMessage, socket: Duplex) => {
      const cancel = pending.get(socket)
      if (!cancel) return
      cancel()
      pending.delete(socket)
      socket.off('close', cancel)
    })
  }

  /** Starts serving; resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const {tls} = this.options
    const upgradeTimeoutMs = this.options.upgradeTimeoutMs ?? 10_000
    const timeouts: http.ServerOptions = {
      headersTimeout: upgradeTimeoutMs,
      requestTimeout: upgradeTimeoutMs,
      // How often Node looks for connections past those timeouts (30 s by default).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(upgradeTimeoutMs / 4))),
    }
    const server = tls ? https.createServer({...timeouts, cert: tls.cert, key: tls.key, handshakeTimeout: upgradeTimeoutMs}) : http.createServer(timeouts)
    server.on('request', (_request, response) => {
      response.writeHead(426, {'content-type': 'text/plain'}).end('HiveMind: WebSocket only\n')
    })
    this.httpServer = server
    this.dropPeersSlowToUpgrade(server, Boolean(tls), upgradeTimeoutMs)
    const wss = new WebSocketServer({server, maxPayload: this.maxPayload, perMessageDeflate: false, clientTracking: false})
    this.wss = wss
    wss.on('connection', (socket, request) => {
      const address = request.socket.remoteAddress ?? '?'
      const remote = `${address}:${request.socket.remotePort ?? '?'}`
      if (this.stopping) {
        socket.close(CLOSE.goingAway, 'server shutting down')
        return
      }
      // Before any work (store lookup, key derivation): a blocked address is refused silently —
      // the limiter counts it for the one summary line logged when the block ends.
      if (this.options.authLimiter && !this.options.authLimiter.check(address).allowed) {
        socket.close(CLOSE.policy, 'too many failed authentications; retry later')
        return
      }
      const slot = this.options.handshakeGate?.tryAcquire(address)
      if (slot && 'refused' in slot) {
        this.gateRefused(address, slot.refused)
        socket.close(CLOSE.tryAgain, 'server busy, retry')
        return
      }
      const maxPending = this.options.maxPendingHandshakes ?? 256
      if (this.pendingCount >= maxPending) {
        this.logger.warn('peer.refused', {remote, reason: 'too many handshakes in flight'})
        socket.close(CLOSE.tryAgain, 'server busy, retry')
        return
      }
      const session = new Session(socket, this, remote, this.options.handshakeTimeoutMs ?? 30_000, address)
      if (slot) this.handshakeSlots.set(session, slot.release)
      this.sessions.add(session)
      this.pendingCount++
      this.logger.debug('peer.connected', {remote})
      void session.authenticate(parseAuthorization(request.url)).catch((error: unknown) => {
        this.logger.error('session.error', {remote, error: errorText(error)})
        session.close(1011, 'internal error')
      })
    })
    // The WebSocket server repeats the HTTP server's errors: one that stops start() (EADDRINUSE…)
    // is the caller's to report, in one line; logging it here too made a second, JSON, line.
    let listening = false
    wss.on('error', (error) => {
      if (listening) this.logger.error('server.error', {error: errorText(error)})
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    listening = true
    this.lastSeen.start()
    if (this.options.authLimiter) {
      const limiter = this.options.authLimiter
      this.sweeper = setInterval(() => {
        for (const summary of limiter.sweep()) {
          this.logger.warn('auth.block_ended', {address: summary.address, failures: summary.failures, refused: summary.refused})
          this.options.audit?.rateLimitSummary(summary)
        }
      }, 10_000)
      this.sweeper.unref()
    }
    await this.poller.start()
    this.agent.start()
    const address = server.address() as AddressInfo
    this.logger.info('listener.started', {host: address.address, port: address.port, tls: Boolean(tls), agent_url: maskUrlSecrets(this.options.agentUrl)})
    return address
  }

  /**
   * Graceful shutdown: stop accepting, close every peer with 1001, stop polling, flush last_seen,
   * close the agent bus. The store is closed by whoever opened it.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown(): Promise<void> {
    this.logger.info('listener.stopping', {clients: this.byPeer.size})
    this.poller.stop()
    if (this.sweeper) clearInterval(this.sweeper)
    const closing = new Promise<void>((resolve) => {
      if (!this.httpServer) return resolve()
      this.httpServer.close(() => resolve())
    })
    for (const session of [...this.sessions]) session.close(CLOSE.goingAway, 'server shutting down')
    this.wss?.close()
    await this.lastSeen.flushAll()
    await this.agent.stop()
    // Peers had their close frame; the HTTP server finishes when their sockets are gone.
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 3000).unref())])
    this.httpServer?.closeAllConnections?.()
    this.logger.info('listener.stopped')
  }

  // --- Hub --------------------------------------------------------------------------------

  toAgent(message: BusMessage): void {
    this.logger.debug('agent.out', {type: message.type})
    this.agent.send(message)
  }

  fanOut(from: Session, message: HiveMessage): void {
    const inner = isObject(message.payload) && message.payload.msg_type === 'bus' ? toBusMessage(message.payload.payload) : undefined
    for (const session of this.byPeer.values()) {
      if (session === from || !session.permissions) continue
      if (inner && !mayReceive(session.permissions, inner.type)) continue
      session.send(message)
    }
  }

  touch(clientId: number): void {
    this.lastSeen.touch(clientId)
  }

  authFailed(session: Session, reason: string): void {
    const limiter = this.options.authLimiter
    const result = limiter?.recordFailure(session.address)
    if (limiter && result?.justBlocked) {
      // One warning per offending address, not one line per attempt.
      this.logger.warn('auth.address_blocked', {address: addressKey(session.address), failures: result.failures, cool_off_ms: limiter.coolOffMs})
      this.options.audit?.rateLimited({address: session.address, failures: result.failures, windowMs: limiter.windowMs, coolOffMs: limiter.coolOffMs})
    } else if (!result?.blocked) {
      this.options.audit?.authFailure({address: session.address, reason, client: session.clientRef})
    }
  }

  /**
   * A connection the handshake gate refused: one warning per address and minute (a flood would
   * otherwise log a line per connection), saying how many were refused since the last one.
   */
  private gateRefused(address: string, reason: string): void {
    const now = Date.now()
    const seen = this.gateRefusals.get(address)
    if (seen && now - seen.loggedAt < GATE_LOG_WINDOW_MS) {
      seen.unlogged++
      return
    }
    // Bounded: a scan of many addresses cannot grow it without limit.
    if (this.gateRefusals.size >= 10_000) this.gateRefusals.clear()
    this.logger.warn('peer.refused', {address, reason: reason === 'address-busy' ? 'too many handshakes from this address' : 'too many handshakes in flight', refused_since_last_line: (seen?.unlogged ?? 0) + 1})
    this.gateRefusals.set(address, {loggedAt: now, unlogged: 0})
  }

  clientRevoked(session: Session, reason: 'revoked' | 'removed'): void {
    const client = session.clientRef
    if (client) this.options.audit?.disconnect({address: session.address, client, reason})
    // Its record is a tombstone now (or gone): no last_seen is written into it afterwards.
    if (session.clientId !== undefined) this.lastSeen.forget(session.clientId)
  }

  policyViolation(session: Session, reason: string, messageType: string): void {
    const client = session.clientRef
    if (client) this.options.audit?.policyViolation({address: session.address, client, reason, messageType})
  }

  ready(session: Session): void {
    this.releaseSlot(session)
    this.pendingCount--
    this.byPeer.set(session.peer, session)
    const id = session.clientId
    if (id !== undefined) {
      const sessions = this.sessionsByClient.get(id) ?? new Set<Session>()
      sessions.add(session)
      this.sessionsByClient.set(id, sessions)
    }
  }

  closed(session: Session): void {
    this.releaseSlot(session)
    if (!this.sessions.delete(session)) return
    if (this.byPeer.get(session.peer) === session) this.byPeer.delete(session.peer)
    else this.pendingCount--
    const id = session.clientId
    if (id === undefined) return
    // A lookup, not a scan of every peer: closing n connections at once stays linear.
    const sessions = this.sessionsByClient.get(id)
    sessions?.delete(session)
    if (!sessions || sessions.size === 0) {
      this.sessionsByClient.delete(id)
      this.lastSeen.disconnected(id)
    }
  }

  private releaseSlot(session: Session): void {
    this.handshakeSlots.get(session)?.()
    this.handshakeSlots.delete(session)
  }

  /** Routes a message from the agent to the sessions named in its destination. */
  private fromAgent(message: BusMessage): void {
    let delivered = 0
    for (const peer of destinations(message)) {
      const session = this.byPeer.get(peer)
      if (!session) continue
      session.deliverBus(message)
      delivered++
    }
    this.logger.debug('agent.in', {type: message.type, delivered})
  }

  /**
   * The store cannot serve again until a restart (an SQLite file replaced under it): the sessions
   * it authenticated are closed too, since their records can no longer be re-read. A client
   * revoked in the new file must not stay connected (QA: its messages still reached the agent).
   * Satellites are told to retry (1013): after the restart they find the database now there.
   */
  private storeUnusable(error: Error): void {
    const sessions = [...this.sessions]
    for (const session of sessions) session.close(CLOSE.tryAgain, 'database unavailable, retry later')
    this.logger.error('store.unusable', {error: errorText(error), connections_closed: sessions.length, ...(isHivemindError(error) && error.suggestion ? {suggestion: error.suggestion} : {})})
  }

  /** Logs that a satellite could not be authenticated because the store did not answer: 20 a minute, then a count. */
  storeUnavailableAtAuth(remote: string, error: unknown): void {
    if (this.authUnavailableLog.take()) this.logger.warn('auth.store_unavailable', {remote, error: errorText(error)})
  }

  /** The store changed: re-read every connected client and apply (or close on revocation). */
  private async refresh(): Promise<void> {
    const byClient = new Map<number, Session[]>()
    for (const session of this.sessions) {
      const id = session.clientId
      if (id === undefined) continue
      byClient.set(id, [...(byClient.get(id) ?? []), session])
    }
    let missing = 0
    for (const [id, sessions] of byClient) {
      // eslint-disable-next-line no-await-in-loop -- one lookup at a time keeps the store's load flat.
      const record = await this.store.get(id)
      if (!record) missing++
      for (const session of sessions) session.refresh(record)
    }
    // Every connected client gone at once, and nothing left: the database was emptied or replaced
    // (a Redis server restarted without persistence, a file swapped) rather than clients revoked.
    if (missing > 0 && missing === byClient.size && (await this.store.count({includeRevoked: true})) === 0) {
      this.logger.error('store.emptied', {
        clients: missing,
        message: 'the database holds no clients any more, not even revoked ones: was it emptied or replaced (a Redis restart without persistence)? Connected satellites were closed; restore it (hivemind-core restore-db) for them to connect again',
      })
    }
    this.logger.debug('store.refreshed', {clients: byClient.size})
  }
}
