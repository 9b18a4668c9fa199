/**
 * A small OpenVoiceOS message bus for tests: a real WebSocket server that records every message
 * it receives and can reply (as OVOS does: swap context.source and context.destination).
 */
import type {AddressInfo} from 'node:net'

import WebSocket, {WebSocketServer} from 'ws'

export interface OvosMessage {
  type: string
  data: Record<string, any>
  context: Record<string, any>
}

export class FakeBus {
  readonly received: OvosMessage[] = []
  private readonly sockets = new Set<WebSocket>()
  private waiters: Array<() => void> = []
  /** Called for every message (to reply automatically). */
  onMessage?: (message: OvosMessage) => void

  private constructor(readonly server: WebSocketServer, readonly port: number) {
    server.on('connection', (socket) => {
      this.sockets.add(socket)
      this.wake()
      socket.on('close', () => this.sockets.delete(socket))
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString()) as OvosMessage
        this.received.push(message)
        this.onMessage?.(message)
        this.wake()
      })
    })
  }

  static async start(port = 0): Promise<FakeBus> {
    const server = new WebSocketServer({host: '127.0.0.1', port})
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    return new FakeBus(server, (server.address() as AddressInfo).port)
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/core`
  }

  get connections(): number {
    return this.sockets.size
  }

  /** Sends a message to every connected listener. */
  emit(message: OvosMessage): void {
    for (const socket of this.sockets) socket.send(JSON.stringify(message))
  }

  /** The reply OVOS would send to `to`: source and destination swapped. */
  reply(to: OvosMessage, type: string, data: Record<string, unknown> = {}): void {
    this.emit({type, data, context: {...to.context, source: to.context.destination, destination: to.context.source}})
  }

  private wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }

  /** Waits (bounded) until `check` holds. */
  async until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('fake bus: timed out')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100))
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  async waitFor(type: string, timeoutMs = 10_000): Promise<OvosMessage> {
    await this.until(() => this.received.some((message) => message.type === type), timeoutMs)
    return this.received.find((message) => message.type === type)!
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
