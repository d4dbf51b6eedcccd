/**
 * An approximate radix tree over request text, after SGLang's cache-aware router (REFERENCE.md
 * §2.1, `smg-project/smg: model_gateway/src/policies/cache_aware.rs` and its tree): one tree per
 * model, edges labelled with text, and on every node the workers ("tenants") whose requests passed
 * through it, each with its last-access stamp (LRU).
 *
 * - `insert(text, tenant)` walks the text from the root, splitting an edge where the text leaves
 *   it, and stamps the tenant on every node of the path.
 * - `match(text)` walks once and returns, per tenant, how many leading characters of the text its
 *   requests covered: a tenant on a node holds the whole path to it (insert stamps every node of a
 *   path; eviction removes a tenant leaf-first), so a tenant's match is the depth of its deepest
 *   node on the path, plus the matched part of that node's edge.
 * - `evict(tenant, maxChars)` drops the tenant from its least recently used leaves until its
 *   characters fit, as SGLang's `evict_tenant_by_size` does.
 *
 * Edges are compared a character at a time (UTF-16 code units): a 60 KB prompt costs one pass
 * over its characters plus one Map lookup per branching node (bench/league/peers/radix-tree-bench.ts).
 * The clock is logical (a counter), which orders accesses as SGLang's wall-clock stamps do.
 */

interface Node {
  /** The text on the edge from the parent to this node ('' for the root). */
  edge: string;
  parent: Node | undefined;
  /** Children by the first character code of their edge. */
  children: Map<number, Node>;
  /** Tenant → last access stamp. */
  tenants: Map<string, number>;
}

function node(edge: string, parent: Node | undefined): Node {
  return { edge, parent, children: new Map(), tenants: new Map() };
}

/** Characters `a` (from `ai`) and `b` (from `bi`) share at their start. */
function common(a: string, ai: number, b: string, bi: number): number {
  const n = Math.min(a.length - ai, b.length - bi);
  let k = 0;
  while (k < n && a.charCodeAt(ai + k) === b.charCodeAt(bi + k)) k++;
  return k;
}

export class ApproxRadixTree {
  private readonly root = node('', undefined);
  private clock = 0;
  /** Characters each tenant holds: the sum of the edges of the nodes it is stamped on. */
  private readonly chars = new Map<string, number>();

  /** Characters a tenant holds in the tree. */
  size(tenant: string): number {
    return this.chars.get(tenant) ?? 0;
  }

  tenants(): string[] {
    return [...this.chars.keys()];
  }

  insert(text: string, tenant: string): void {
    const stamp = ++this.clock;
    let cur = this.root;
    this.stamp(cur, tenant, stamp);
    let i = 0;
    while (i < text.length) {
      const child = cur.children.get(text.charCodeAt(i));
      if (!child) {
        const leaf = node(text.slice(i), cur);
        cur.children.set(text.charCodeAt(i), leaf);
        this.stamp(leaf, tenant, stamp);
        return;
      }
      const k = common(child.edge, 0, text, i);
      cur = k < child.edge.length ? this.split(child, k) : child;
      this.stamp(cur, tenant, stamp);
      i += k;
    }
  }

  /** Per tenant, the leading characters of `text` its requests covered (tenants with none are absent). */
  match(text: string): Map<string, number> {
    const out = new Map<string, number>();
    let cur = this.root;
    let i = 0;
    while (i < text.length) {
      const child = cur.children.get(text.charCodeAt(i));
      if (!child) break;
      const k = common(child.edge, 0, text, i);
      for (const t of child.tenants.keys()) out.set(t, i + k);
      if (k < child.edge.length) break;
      cur = child;
      i += k;
    }
    return out;
  }

  /** Removes the tenant from its least recently used leaves until it holds at most `maxChars`. */
  evict(tenant: string, maxChars: number): void {
    let held = this.size(tenant);
    if (held <= maxChars) return;
    const heap = new StampHeap(tenant);
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      let leaf = true;
      for (const c of n.children.values()) {
        if (c.tenants.has(tenant)) {
          leaf = false;
          stack.push(c);
        }
      }
      if (leaf && n !== this.root) heap.push(n);
    }
    while (held > maxChars && heap.size > 0) {
      const n = heap.pop();
      n.tenants.delete(tenant);
      held -= n.edge.length;
      const parent = n.parent!;
      if (n.tenants.size === 0 && n.children.size === 0) parent.children.delete(n.edge.charCodeAt(0));
      if (parent !== this.root && ![...parent.children.values()].some((c) => c.tenants.has(tenant))) heap.push(parent);
    }
    if (held > 0) this.chars.set(tenant, held);
    else {
      this.chars.delete(tenant);
      this.root.tenants.delete(tenant);
    }
  }

  private stamp(n: Node, tenant: string, stamp: number): void {
    if (!n.tenants.has(tenant)) this.chars.set(tenant, this.size(tenant) + n.edge.length);
    n.tenants.set(tenant, stamp);
  }

  /** Cuts `child`'s edge after `k` characters; the new upper node inherits its tenants and stamps. */
  private split(child: Node, k: number): Node {
    const parent = child.parent!;
    const upper = node(child.edge.slice(0, k), parent);
    upper.tenants = new Map(child.tenants);
    parent.children.set(upper.edge.charCodeAt(0), upper);
    child.edge = child.edge.slice(k);
    child.parent = upper;
    upper.children.set(child.edge.charCodeAt(0), child);
    return upper;
  }
}

/** A binary min-heap of nodes by one tenant's stamp (oldest first). */
class StampHeap {
  private readonly items: Node[] = [];

  constructor(private readonly tenant: string) {}

  get size(): number {
    return this.items.length;
  }

  push(n: Node): void {
    const a = this.items;
    a.push(n);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.key(a[p]) <= this.key(a[i])) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  pop(): Node {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.key(a[l]) < this.key(a[m])) m = l;
        if (r < a.length && this.key(a[r]) < this.key(a[m])) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }

  private key(n: Node): number {
    return n.tenants.get(this.tenant) ?? 0;
  }
}
