/**
 * The listener's client of the OpenVoiceOS message bus (protocol.md §6): one WebSocket to the agent,
 * re-established with capped exponential back-off whenever it drops. While it is down, messages
 * for the agent are dropped (and counted): satellites keep connecting and authenticating.
 */
import WebSocket from 'ws'

import {describeSource, type Sourced} from '../config/settings.js'
import {ConfigError, UsageError} from '../core/errors.js'
import {maskUrlSecrets} from '../core/redact.js'
import {LogBudget} from './log-budget.js'
import {errorText, type Logger} from './logger.js'
import {type BusMessage, toBusMessage} from './messages.js'

export interface AgentBusOptions {
  url: string
  logger: Logger
  /** First reconnection delay, doubled per failure up to maxDelayMs. Default 250. */
  minDelayMs?: number
  /** Default 5000. */
  maxDelayMs?: number
  /** Largest frame accepted from the agent. Default 64 MiB. */
  maxPayload?: number
}

/** Dropped messages logged one by one per window [20]; the rest are counted in one line. */
export const DROPS_REPORTED_PER_WINDOW = 20
/** The window of {@link DROPS_REPORTED_PER_WINDOW} (ms) [60 s]. */
export const DROPS_WINDOW_MS = 60_000

export class AgentBus {
  private socket?: WebSocket
  private delay: number
  private timer?: NodeJS.Timeout
  private stopped = false
  /** True from the first send of an event-loop turn until the writes of that turn are flushed. */
  private corked = false
  /** The current outage was logged at warn (once per outage; retries go to debug). */
  private saidUnreachable = false
  private readonly listeners: Array<(message: BusMessage) => void> = []
  /** Messages that could not be delivered because the bus was down. */
  dropped = 0
  /**
   * Dropped messages are logged one by one up to a limit per window, then counted and said once
   * (at the next window, on reconnection, at stop): any enrolled satellite talking during an
   * agent restart could otherwise fill the disk (QA: 5,000 messages gave 5,000 lines in a second).
   */
  private readonly drops: LogBudget

  constructor(private readonly options: AgentBusOptions) {
    this.drops = new LogBudget(DROPS_REPORTED_PER_WINDOW, DROPS_WINDOW_MS, (count) => {
      options.logger.warn('agent.dropped_unreported', {count, reason: 'agent bus not connected', window_ms: DROPS_WINDOW_MS})
    })
    this.delay = options.minDelayMs ?? 250
  }

  /** True while connected. */
  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN
  }

  /** Registers a handler of every message the agent sends. */
  onMessage(listener: (message: BusMessage) => void): void {
    this.listeners.push(listener)
  }

  /** Starts connecting (in the background; never throws). */
  start(): void {
    this.stopped = false
    this.connect()
  }

  /** Sends a message to the agent; false (and counted) when the bus is down. */
  send(message: BusMessage): boolean {
    if (!this.connected) {
      this.dropped++
      if (this.drops.take()) this.options.logger.warn('agent.dropped', {type: message.type, reason: 'agent bus not connected'})
      return false
    }
    const socket = this.socket!
    this.coalesceWrites(socket)
    socket.send(JSON.stringify(message))
    return true
  }

  /**
   * Lets every message sent to the agent in this turn of the event loop leave in one system call.
   * ws writes each frame at once, and with a hundred satellites talking, one write per message
   * was the listener's largest cost (measured: 700 of ~1800 ms relaying 80k messages). The TCP
   * socket is corked at the first send of a turn and uncorked on the next tick, before any I/O:
   * no message waits for another event.
   */
  private coalesceWrites(socket: WebSocket): void {
    if (this.corked) return
    // ws keeps its TCP socket in `_socket`; without one (another ws version), writes stay one by one.
    const transport = (socket as unknown as {_socket?: {cork?: () => void; uncork?: () => void}})._socket
    if (typeof transport?.cork !== 'function' || typeof transport.uncork !== 'function') return
    transport.cork()
    this.corked = true
    process.nextTick(() => {
      this.corked = false
      transport.uncork!()
    })
  }

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true
    this.drops.flush()
    if (this.timer) clearTimeout(this.timer)
    const socket = this.socket
    this.socket = undefined
    if (!socket || socket.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        socket.terminate()
        resolve()
      }, 1000)
      socket.once('close', () => {
        clearTimeout(force)
        resolve()
      })
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate()
      else socket.close(1001, 'listener shutting down')
    })
  }

  private connect(): void {
    if (this.stopped) return
    const {logger} = this.options
    const target = this.options.url
    // What the logs show: a password in the bus URL (ws://user:pass@host) and query values are masked.
    const url = maskUrlSecrets(target)
    const socket = new WebSocket(target, {maxPayload: this.options.maxPayload ?? 64 * 1024 * 1024, handshakeTimeout: 5000})
    this.socket = socket
    let opened = false
    socket.on('open', () => {
      opened = true
      this.delay = this.options.minDelayMs ?? 250
      this.saidUnreachable = false
      this.drops.flush()
      logger.info('agent.connected', {url})
    })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      let value: unknown
      try {
        value = JSON.parse(data.toString())
      } catch {
        logger.debug('agent.bad_message')
        return
      }
      const message = toBusMessage(value)
      if (!message) return
      for (const listener of this.listeners) listener(message)
    })
    socket.on('error', (error) => {
      const fields = {url, error: errorText(error).replaceAll(target, url)}
      // Said once per outage at warn (a bus down at startup, or gone since): every retry at debug.
      if (opened || this.saidUnreachable) {
        logger.debug('agent.error', fields)
        return
      }
      this.saidUnreachable = true
      logger.warn('agent.unreachable', {...fields, note: 'satellites can connect, but their messages are dropped until the agent bus answers; retrying'})
    })
    socket.on('close', () => {
      if (this.socket !== socket) return
      this.socket = undefined
      if (this.stopped) return
      if (opened) logger.warn('agent.disconnected', {url})
      const wait = this.delay
      this.delay = Math.min(this.delay * 2, this.options.maxDelayMs ?? 5000)
      logger.debug('agent.reconnect_scheduled', {url, in_ms: wait})
      this.timer = setTimeout(() => this.connect(), wait)
    })
  }
}

/**
 * Refuses a bus URL the WebSocket client cannot use, naming where it came from (e.g. "flag
 * --agent-url"): otherwise the client's "Invalid URL" surfaced as a failure to listen. A bad flag
 * is a usage error (exit 2, as every bad flag); a bad environment or config value is a
 * configuration error (exit 1).
 */
export function checkAgentUrl({value, source}: Sourced<string>, cwd: string): void {
  let protocol: string | undefined
  try {
    protocol = new URL(value).protocol
  } catch {
    protocol = undefined
  }
  if (protocol !== 'ws:' && protocol !== 'wss:') {
    const Refusal = source.kind === 'flag' ? UsageError : ConfigError
    throw new Refusal(`${describeSource(source, cwd)}: the agent URL must be a ws:// or wss:// URL, found "${maskUrlSecrets(value)}"`, {
      suggestion: 'e.g. --agent-url ws://127.0.0.1:8181/core (the OpenVoiceOS message bus)',
    })
  }
}
