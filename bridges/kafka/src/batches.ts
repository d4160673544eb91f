// Groups decoded signals into per-tenant ingest requests (the token's tenant must equal every signal's tenantId, and
// a request carries 1..1000 signals in at most 1 MiB). Pure: the caller owns the clock and the sending.

/** `{"signals":[` + `]}`: the bytes a request adds around its signals. */
const ENVELOPE_BYTES = '{"signals":[]}'.length;

export interface BatchItem {
  /** The signal's JSON text, as it will be sent. */
  json: string;
  bytes: number;
}

export interface Batch<T extends BatchItem> {
  tenantId: string;
  items: T[];
  bytes: number;
  /** When the first item was added (ms), for the linger deadline. */
  openedAt: number;
}

export interface BatchLimits {
  /** Signals per request, 1..1000. */
  maxItems: number;
  /** Request body bytes, at most 1 MiB. */
  maxBytes: number;
}

/** The request body for a batch's items. */
export function batchBody(items: readonly BatchItem[]): string {
  return `{"signals":[${items.map((i) => i.json).join(",")}]}`;
}

/**
 * Open batches, one per tenant. `add` closes a tenant's batch when the next item would not fit, and returns the
 * batches that became full; `takeDue` hands a free sender the oldest open batch once its linger time is over, and
 * `takeOldest` regardless of it.
 */
export class TenantBatcher<T extends BatchItem> {
  readonly #limits: BatchLimits;
  // Map iteration is insertion order, and a tenant's entry is re-inserted when its batch is reopened: the first
  // entry is always the oldest open batch.
  readonly #open = new Map<string, Batch<T>>();
  #items = 0;

  constructor(limits: BatchLimits) {
    this.#limits = limits;
  }

  /** Items waiting in open batches. */
  get size(): number {
    return this.#items;
  }

  /** Adds an item to its tenant's batch; returns the batches that are now complete (zero, one or two). */
  add(tenantId: string, item: T, now: number): Batch<T>[] {
    const full: Batch<T>[] = [];
    let batch = this.#open.get(tenantId);
    if (batch && batch.bytes + 1 + item.bytes > this.#limits.maxBytes) {
      full.push(this.#close(batch));
      batch = undefined;
    }
    if (!batch) {
      batch = { tenantId, items: [], bytes: ENVELOPE_BYTES, openedAt: now };
      this.#open.set(tenantId, batch);
    }
    batch.items.push(item);
    batch.bytes += item.bytes + (batch.items.length > 1 ? 1 : 0);
    this.#items++;
    if (batch.items.length >= this.#limits.maxItems) full.push(this.#close(batch));
    return full;
  }

  /** The oldest open batch, closed, or null. */
  takeOldest(): Batch<T> | null {
    const first = this.#open.values().next();
    return first.done ? null : this.#close(first.value);
  }

  /**
   * The oldest open batch, closed, when it was opened at or before `openedBy`; else null. One at a time: the others
   * stay open and keep filling while the senders are busy, so batches grow with the load.
   */
  takeDue(openedBy: number): Batch<T> | null {
    const first = this.#open.values().next();
    if (first.done || first.value.openedAt > openedBy) return null;
    return this.#close(first.value);
  }

  /** When the oldest open batch was opened, or null when none is open. */
  oldestOpenedAt(): number | null {
    const first = this.#open.values().next();
    return first.done ? null : first.value.openedAt;
  }

  #close(batch: Batch<T>): Batch<T> {
    this.#open.delete(batch.tenantId);
    this.#items -= batch.items.length;
    return batch;
  }
}
