// @ts-check
/**
 * preStop hook of a media node (media-daemonset.yaml), run by the kubelet inside the container
 * before it sends SIGTERM. It asks the node beside it to drain (`POST /api/nodes/:id/drain`) and
 * then waits until the node has exited by itself: when its last room ends or at DRAIN_TIMEOUT_S.
 * SIGTERM would start the same drain, but while this hook waits the kubelet sends nothing, so a
 * second signal cannot cut the drain short, and the hook's log says how the drain went.
 *
 * Exit 0: the node drained and exited, or was not running. Exit 1: the drain request was refused
 * or unanswered, or the node outlived its deadline; the kubelet then records a FailedPreStopHook
 * event and sends SIGTERM, which drains (or stops) the node all the same.
 *
 * A plain Node script because the image (node:20-bookworm-slim) has neither curl nor wget. It
 * reads the container's environment: PORT, NODE_ID, ADMIN_API_KEY, DRAIN_TIMEOUT_S.
 */

/** Beyond DRAIN_TIMEOUT_S: the node's own deadline plus its exit must fit in this. */
const EXIT_MARGIN_S = 30;
const POLL_INTERVAL_MS = 1000;
const REQUEST_TIMEOUT_MS = 3000;

// eslint-disable-next-line no-restricted-properties -- a hook beside the server, not server code
const env = process.env;
const port = Number(env.PORT || 3000);
const nodeId = env.NODE_ID;
const adminKey = env.ADMIN_API_KEY;
const drainTimeoutS = Number(env.DRAIN_TIMEOUT_S || 0);
const base = `http://127.0.0.1:${port}`;

/**
 * One JSON line in the shape of the server's Logger; the kubelet shows a failed hook's output in
 * the pod's events.
 * @param {'info' | 'warn'} level @param {string} msg @param {Record<string, unknown>} [fields]
 */
function log(level, msg, fields = {}) {
  const entry = {
    time: new Date().toISOString(),
    level,
    pid: process.pid,
    component: 'drain-hook',
    msg,
    ...fields,
  };
  process.stdout.write(JSON.stringify(entry) + '\n');
}

/**
 * True when nothing listens on the node's port any more, i.e. the process has exited.
 * @param {unknown} err
 */
function isRefused(err) {
  const cause = err instanceof Error ? err.cause : undefined;
  return typeof cause === 'object' && cause !== null && 'code' in cause && cause.code === 'ECONNREFUSED';
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main() {
  if (!nodeId || !adminKey || !Number.isInteger(port) || port <= 0) {
    log('warn', 'cannot drain: NODE_ID, ADMIN_API_KEY and PORT must be set; leaving it to SIGTERM');
    return 1;
  }
  let res;
  try {
    res = await fetch(`${base}/api/nodes/${encodeURIComponent(nodeId)}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    if (isRefused(err)) {
      log('info', 'node not running: nothing to drain', { nodeId });
      return 0;
    }
    log('warn', 'drain request failed; leaving it to SIGTERM', { nodeId, error: String(err) });
    return 1;
  }
  if (!res.ok) {
    log('warn', 'drain request refused; leaving it to SIGTERM', { nodeId, status: res.status });
    return 1;
  }
  const deadlineS = (Number.isFinite(drainTimeoutS) && drainTimeoutS > 0 ? drainTimeoutS : 0) + EXIT_MARGIN_S;
  log('info', 'draining: waiting for the node to exit', { nodeId, deadlineS });
  const started = Date.now();
  while (Date.now() - started < deadlineS * 1000) {
    await sleep(POLL_INTERVAL_MS);
    try {
      // Liveness stays 200 while draining; only the process going away ends the wait.
      await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      if (isRefused(err)) {
        log('info', 'node drained and exited', {
          nodeId,
          seconds: Math.round((Date.now() - started) / 1000),
        });
        return 0;
      }
      // A timeout or a reset while the process is exiting: look again.
    }
  }
  log('warn', 'node still running past its drain deadline; leaving it to SIGTERM', { nodeId, deadlineS });
  return 1;
}

process.exitCode = await main();
