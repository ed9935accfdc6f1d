// Checks for the service surface's tests: the structure OpenAPI 3.0 requires of a document (no
// meta-schema is installed here, so the rules that matter are checked one by one), and a parser
// for Prometheus' text exposition format.

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const PARAM_IN = new Set(['query', 'header', 'path', 'cookie']);

/** Every way `doc` breaks OpenAPI 3.0 that we check; [] when none. */
export function checkOpenApi3(doc: any): string[] {
  const problems: string[] = [];
  const bad = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (typeof doc?.openapi !== 'string' || !/^3\.0\.\d+$/.test(doc.openapi)) bad('openapi', `expected 3.0.x, got ${JSON.stringify(doc?.openapi)}`);
  if (typeof doc?.info?.title !== 'string' || typeof doc?.info?.version !== 'string') bad('info', 'title and version are required strings');
  if (!doc?.paths || typeof doc.paths !== 'object') return [...problems, 'paths: required object'];
  const schemes = doc.components?.securitySchemes ?? {};
  const checkSecurity = (where: string, sec: unknown) => {
    if (sec === undefined) return;
    if (!Array.isArray(sec)) return bad(where, 'security must be an array');
    for (const req of sec) for (const name of Object.keys(req)) if (!schemes[name]) bad(where, `unknown security scheme ${name}`);
  };
  checkSecurity('security', doc.security);
  const operationIds = new Set<string>();
  for (const [p, item] of Object.entries<any>(doc.paths)) {
    if (!p.startsWith('/')) bad(p, 'a path starts with /');
    if (/\/:/.test(p)) bad(p, 'Fastify `:param` syntax leaked into the path');
    const pathParams = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [method, op] of Object.entries<any>(item)) {
      const where = `${method.toUpperCase()} ${p}`;
      if (!METHODS.has(method)) { bad(where, 'not an HTTP method'); continue; }
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) bad(where, `duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const responses = Object.entries<any>(op.responses ?? {});
      if (responses.length === 0) bad(where, 'responses must not be empty');
      for (const [status, r] of responses) {
        if (!/^([1-5](\d\d|XX)|default)$/.test(status)) bad(where, `response key ${status}`);
        if (typeof r?.description !== 'string') bad(`${where} ${status}`, 'response description is required');
      }
      for (const prm of op.parameters ?? []) {
        if (typeof prm.name !== 'string' || !PARAM_IN.has(prm.in)) bad(where, `parameter ${JSON.stringify(prm)}`);
        if (prm.in === 'path' && prm.required !== true) bad(where, `path parameter ${prm.name} must be required`);
        if (!prm.schema && !prm.content) bad(where, `parameter ${prm.name} needs schema or content`);
      }
      for (const name of pathParams) {
        if (!(op.parameters ?? []).some((prm: any) => prm.in === 'path' && prm.name === name)) bad(where, `path parameter ${name} not declared`);
      }
      if (op.requestBody && typeof op.requestBody.content !== 'object') bad(where, 'requestBody needs content');
      checkSecurity(where, op.security);
    }
  }
  // Schemas: OpenAPI 3.0 has no type arrays (nullable instead), and every $ref must resolve.
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}/${i}`));
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (Array.isArray(o['type'])) bad(where, `type array ${JSON.stringify(o['type'])} (OpenAPI 3.0 uses nullable)`);
    if (typeof o['$ref'] === 'string' && resolveRef(doc, o['$ref']) === undefined) bad(where, `unresolved $ref ${o['$ref']}`);
    for (const [k, v] of Object.entries(o)) walk(v, `${where}/${k}`);
  };
  walk(doc.paths, '#/paths');
  walk(doc.components, '#/components');
  return problems;
}

function resolveRef(doc: any, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce((o: any, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples. */
export function scrape(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample named `name` whose labels are exactly `labels`. */
export function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
