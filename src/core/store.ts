/**
 * The one contract every storage backend implements, and the descriptor through which a backend
 * (built in or from a plugin) is registered with the `hivemind:backends` oclif hook.
 */
import type {ClientPatch, ClientRecord, NewClient} from './client.js'

/** Options of `list` and `count`. */
export interface ListOptions {
  /** Include revoked tombstones. Default false. */
  includeRevoked?: boolean
}

/**
 * A client database. All members are async. Implementations must be safe to use from several
 * processes at once (the CLI and `listen` share one store).
 *
 * | member | contract |
 * |---|---|
 * | `open` / `close` | connect and check/upgrade the schema explicitly; `close` is idempotent and flushes |
 * | `add` | next id from a monotonic counter owned by the store; duplicate live api_key → DuplicateApiKeyError |
 * | `put` | insert or replace with the given id; advances the counter past it |
 * | `get` / `getByApiKey` | undefined when missing; getByApiKey never returns a tombstone; indexed |
 * | `update` | partial update; unknown id → ClientNotFoundError |
 * | `modify` | optional: a read-modify-write of one record that no other writer can interleave |
 * | `lastId` / `reserveIds` | optional: read and raise the id counter (migrate-db carries it over) |
 * | `revoke` | tombstone: keeps the id, api_key "revoked", password and crypto_key null |
 * | `list` / `count` | stable order by id; agree with each other |
 * | `revision` | a cheap token that changes whenever any process changed the data |
 *
 * Records are values: a write never edits what it is handed nor keeps a reference to it, and
 * every record a store returns is the caller's own copy (the conformance suite checks both;
 * migrate-db hands a target the very records it later verifies the target against).
 *
 * Writes requested on one store object take effect in the order they were called, even when the
 * caller does not await each before the next (`add` then `put(9)` then `add` never lets the
 * second add see an older counter than the put left). Writes of other processes interleave freely.
 */
export interface ClientStore {
  /** Backend name, e.g. "sqlite". */
  readonly name: string
  /** Human-readable location for messages, e.g. "/home/u/.local/share/hivemind-core/clients.db". Never holds a secret. */
  readonly location: string
  open(): Promise<void>
  close(): Promise<void>
  add(client: NewClient): Promise<ClientRecord>
  put(client: ClientRecord): Promise<ClientRecord>
  get(id: number): Promise<ClientRecord | undefined>
  getByApiKey(apiKey: string): Promise<ClientRecord | undefined>
  update(id: number, patch: ClientPatch): Promise<ClientRecord>
  revoke(id: number): Promise<ClientRecord>
  list(options?: ListOptions): AsyncIterable<ClientRecord>
  count(options?: ListOptions): Promise<number>
  revision(): Promise<string>
  /**
   * Optional: reads record `id` as stored NOW and stores `change(current)` over it, as one step
   * that no other writer (of this process or another) can interleave: adding an item to a list
   * never drops an item another process added meanwhile. `change` returns the patch to apply, or
   * undefined to leave the record as it is (nothing written); an error it throws rejects modify
   * and stores nothing. It must be a pure function of `current`: an optimistic store (compare and
   * retry) may call it more than once. Resolves with the record as stored afterwards; unknown id →
   * ClientNotFoundError. Absent, callers fall back to `get` then `update`, which a concurrent
   * writer can interleave.
   */
  modify?(id: number, change: (current: ClientRecord) => ClientPatch | undefined): Promise<ClientRecord>
  /**
   * Optional: a string that two open stores share exactly when they hold the same data, however
   * their locations are spelt (a server reached as localhost and as 127.0.0.1). migrate-db refuses
   * to copy a store onto itself with it. Never holds a secret.
   */
  storeIdentity?(): Promise<string>
  /**
   * Optional: the highest id this store has assigned or been given, tombstones and removed
   * records included (0 when none). Past the highest record when records were removed
   * (`clear`, or by hand): the counter remembers them, so their ids never come back.
   */
  lastId?(): Promise<number>
  /**
   * Optional: moves the id counter so that `add` never hands out an id at or below `id`; never
   * moves it back. With `lastId`, migrate-db gives the target the source's counter: a client
   * enrolled after the migration never gets the id of one removed before it.
   */
  reserveIds?(id: number): Promise<void>
  /**
   * Optional: store many records with their ids in one atomic step where the backend can
   * (a transaction). Callers fall back to `put` one by one when absent.
   */
  putMany?(clients: readonly ClientRecord[]): Promise<void>
  /**
   * Optional: how many records one `putMany` call should carry for a bulk copy (migrate-db,
   * restore-db) when the operator did not choose. A file backend that rewrites the whole file
   * per call wants few large calls. Default 500.
   */
  readonly preferredBatchSize?: number
  /**
   * Optional: removes every record (tombstones included) but keeps the id counter, so ids are
   * still never reused. Used by `migrate-db --force` to replace a target's contents.
   */
  clear?(): Promise<void>
}

/** The type of one backend option, as the settings layer validates and expands it. */
export type OptionType = 'string' | 'integer' | 'boolean' | 'path'

/** Describes one option a backend accepts (config key `database.<backend>.<key>`). */
export interface OptionSpec {
  type: OptionType
  /** One line for `print-config`, docs and errors. */
  description: string
  /** Default value, or a function of the standard directories. Absent = unset. */
  default?: unknown | ((paths: HivemindPaths) => unknown)
  /** Masked in every output (passwords). Default false. */
  secret?: boolean
  /** Accepts null (meaning "unset"). Default false. */
  nullable?: boolean
  /** Smallest value an integer option accepts (checked wherever the value comes from). Default: none. */
  minimum?: number
  /** Largest value an integer option accepts. Default: none. */
  maximum?: number
}

/** The options a backend accepts, by key. `path` keys also receive `--db-path`. */
export type OptionsSchema = Record<string, OptionSpec>

/** Standard directories, resolved from $HOME and $XDG_* at startup. */
export interface HivemindPaths {
  /** `$XDG_DATA_HOME/hivemind-core` (default `~/.local/share/hivemind-core`). */
  dataDir: string
  /** `$XDG_CONFIG_HOME/hivemind-core` (default `~/.config/hivemind-core`). */
  configDir: string
  /** `$XDG_STATE_HOME/hivemind-core` (default `~/.local/state/hivemind-core`). */
  stateDir: string
  /** The user's home directory. */
  home: string
}

/** How a command intends to use the store. */
export type StoreMode = 'read' | 'write'

/** What a backend receives besides its options. */
export interface BackendContext {
  paths: HivemindPaths
  /** 'read' for commands that never write (list-clients, show-client, export-clients); 'write' otherwise (listen too: it writes last_seen). */
  mode: StoreMode
  /**
   * True when the store serves a long-running process (`listen`) rather than one CLI command.
   * A backend holding a network connection should then survive drops (reconnect in the
   * background, fail single operations with StoreUnavailableError while down) instead of failing
   * fast. Optional and additive: absent means a one-shot command. Default false.
   */
  longRunning?: boolean
  /**
   * True when the caller needs the location left exactly as it is, byte for byte: the source of
   * `migrate-db` (and its target in `--dry-run`), the database `backup-db` reads. `open()` and
   * every read must then write nothing there — no schema upgrade, no journal mode switch, no
   * file left beside it — even where an ordinary read-only open would upgrade the location in
   * place; a store that cannot read the location without changing it reads a private copy, or
   * fails. Writes through such a store are refused (STORE_READ_ONLY). Only given with mode
   * 'read'. Optional and additive: absent means false, and a backend whose read-mode open
   * already writes nothing has nothing to do.
   */
  leaveUntouched?: boolean
  /** One-line notices for the operator (stderr). Never pass secrets. */
  warn(message: string): void
}

/** What a backend reports about a location without creating or changing anything. */
export interface StoreProbe {
  /** The location exists (file present, server reachable with data). */
  exists: boolean
  /** Number of live clients, when cheaply known. */
  clients?: number
  /**
   * The highest client id the location holds or has handed out (tombstones included), when
   * cheaply known. add-client on an empty database beside it starts after it, so that moving
   * these clients in later (migrate-db --merge) keeps every id.
   */
  lastId?: number
  /** Human-readable location, as `ClientStore.location`. */
  location: string
}

/** See {@link BackendDescriptor.upstream}. */
export interface UpstreamDatabasePlugin {
  /** Entry-point names, e.g. `hivemind-json-db-plugin`. */
  modules: readonly string[]
  /**
   * This backend's options from the plugin's section of server.json (`{"name": "clients",
   * "subfolder": "hivemind-core"}`). Keys it cannot translate are left out; values are checked
   * against the options schema afterwards.
   */
  options(section: Record<string, unknown>, paths: HivemindPaths): Record<string, unknown>
}

/**
 * A backend as registered through the `hivemind:backends` hook. Importing the module that
 * declares a descriptor must be cheap: heavy libraries are imported inside `create`.
 */
export interface BackendDescriptor<Options extends Record<string, unknown> = Record<string, unknown>> {
  /** Unique name, used by `--db-backend` and `database.backend`. Lower case. */
  name: string
  /** One line for `list-backends`. */
  summary: string
  /** The options this backend accepts, with types and defaults. */
  optionsSchema: OptionsSchema
  /** Builds a store (not yet opened). Options are already validated, defaulted and path-expanded. */
  create(options: Options, context: BackendContext): ClientStore | Promise<ClientStore>
  /**
   * Optional: inspects a location without creating or changing it (for the agreement guard,
   * which looks for clients in the other well-known locations). Return undefined when the
   * backend cannot tell cheaply.
   */
  probe?(options: Options, context: BackendContext): Promise<StoreProbe | undefined>
  /**
   * Optional: the Python hivemind-core's database plugin whose data this backend reads, by its
   * entry-point name, and how that plugin's section of the Python hub's server.json translates
   * into this backend's options. An upgraded hub then keeps the database it used, and the
   * plugin's name works wherever a backend is named (`migrate-db --from hivemind-json-db-plugin`).
   */
  upstream?: UpstreamDatabasePlugin
  /**
   * Optional: true when `open()` in 'read' mode creates and changes nothing, even where the
   * location does not exist yet (a server the store only reads from). Read-only commands then
   * open the store directly instead of calling `probe()` first: for a network backend, one
   * connection (with its TLS handshake and authentication) less per command. Default false: a
   * read-only command probes first and reads a location that does not exist as empty, without
   * opening it, so that a file backend never creates its file for a listing.
   */
  readModeOpenCreatesNothing?: boolean
  /**
   * Optional: human-readable location of these options, without opening anything. Never
   * includes a secret. Default: the `path`, `url` or `host` option, else the backend name.
   */
  describeLocation?(options: Options): string
  /**
   * Optional: checks a live setup for security and reliability problems (`hivemind-core doctor`):
   * authentication, transport encryption, persistence… Must not write, must not hang (bounded
   * deadlines), and never puts a secret in a finding. File permissions of a `path` option are
   * checked by doctor itself.
   */
  diagnose?(options: Options, context: BackendContext): Promise<Finding[]>
}

/** One result of `hivemind-core doctor`. */
export interface Finding {
  /** Stable identifier, e.g. "redis-no-password", "file-mode". */
  id: string
  /** problem: doctor exits non-zero; warning and info: reported only. */
  severity: 'problem' | 'warning' | 'info'
  /** What is wrong (one line, no secret). */
  message: string
  /** How to fix it: a command or setting. */
  fix?: string
}
