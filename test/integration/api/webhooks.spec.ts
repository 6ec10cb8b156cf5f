import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhooksService } from '../../../src/webhooks/webhooks.service';
import { verifyWebhookSignature } from '../../../src/webhooks/webhook-signature';
import type { WebhookEnvelope } from '../../../src/webhooks/webhook-events';
import { startTestServer } from '../../helpers/server';
import { createRoom, token } from '../../helpers/api';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

const SECRET = 'webhook-test-secret-0123456789';

interface Delivery {
  envelope: WebhookEnvelope;
  signatureOk: boolean;
  eventHeader: string | undefined;
  deliveryHeader: string | undefined;
}

/** A webhook receiver on a fixed port that can answer 503, go away and come back. */
class Receiver {
  deliveries: Delivery[] = [];
  refusedWith503 = 0;
  mode: 'ok' | '503' = 'ok';
  private server: http.Server | null = null;
  port = 0;

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.mode === '503') {
          this.refusedWith503++;
          res.writeHead(503).end();
          return;
        }
        const raw = Buffer.concat(chunks);
        this.deliveries.push({
          envelope: JSON.parse(raw.toString('utf8')) as WebhookEnvelope,
          signatureOk: verifyWebhookSignature(
            raw,
            req.headers['x-mcu-signature'] as string | undefined,
            SECRET,
          ),
          eventHeader: req.headers['x-mcu-event'] as string | undefined,
          deliveryHeader: req.headers['x-mcu-delivery'] as string | undefined,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }

  events(): string[] {
    return this.deliveries.map((d) => d.envelope.event);
  }

  ids(): Set<string> {
    return new Set(this.deliveries.map((d) => d.envelope.id));
  }
}

describe('webhooks', () => {
  const receiver = new Receiver();
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    await receiver.start();
    server = await startTestServer({
      WEBHOOK_URLS: `http://127.0.0.1:${receiver.port}/hook`,
      WEBHOOK_SECRET: SECRET,
      WEBHOOK_BACKOFF_MS: '200',
      WEBHOOK_ATTEMPTS: '12',
    });
  });

  afterAll(async () => {
    await server.close();
    await receiver.stop();
  });

  it('room and participant events arrive as signed JSON with event and delivery headers', async () => {
    await createRoom(server, { id: 'hooked' });
    const c = await TestClient.connect(server.url, {
      roomId: 'hooked',
      displayName: 'H',
      toneHz: 0,
      token: await token(server, 'hooked', { identity: 'hooky', displayName: 'Hooky' }),
    });
    await c.close();
    const ofRoom = () =>
      receiver.deliveries.filter((d) => (d.envelope.data as { roomId?: string }).roomId === 'hooked');
    await waitFor(() => ofRoom().some((d) => d.envelope.event === 'room.ended'), 20000, 'room.ended');
    const byEvent = new Map(ofRoom().map((d) => [d.envelope.event, d]));
    expect([...byEvent.keys()].sort()).toEqual([
      'participant.joined',
      'participant.left',
      'room.ended',
      'room.started',
    ]);
    expect(byEvent.get('participant.joined')?.envelope.data).toEqual({
      roomId: 'hooked',
      participantId: c.participantId,
      identity: 'hooky',
      displayName: 'Hooky',
      role: 'publisher',
    });
    expect(byEvent.get('participant.left')?.envelope.data).toMatchObject({
      participantId: c.participantId,
      reason: 'disconnected',
    });
    expect(byEvent.get('room.ended')?.envelope.data).toEqual({ roomId: 'hooked', reason: 'empty' });
    for (const d of ofRoom()) {
      expect(d.signatureOk).toBe(true);
      expect(d.eventHeader).toBe(d.envelope.event);
      expect(d.deliveryHeader).toBe(d.envelope.id);
      expect(Date.parse(d.envelope.createdAt)).not.toBeNaN();
    }
  });

  it('no event is lost while the receiver is briefly failing or down, and the server keeps serving', async () => {
    const webhooks = server.app.get(WebhooksService);
    const published: string[] = [];
    const publish = (n: number) => {
      for (let i = 0; i < n; i++) {
        const recordingId = `rec_outage${published.length}`;
        published.push(recordingId);
        webhooks.publish('recording.ready', { roomId: 'outage', recordingId, state: 'ready' });
      }
    };

    receiver.mode = '503';
    publish(5);
    await waitFor(() => receiver.refusedWith503 >= 5, 20000, 'the receiver to refuse deliveries');
    await receiver.stop();
    publish(5);
    // Joining and leaving do not wait for webhook delivery.
    await createRoom(server, { id: 'outage' });
    const c = await TestClient.connect(server.url, {
      roomId: 'outage',
      displayName: 'O',
      toneHz: 0,
      token: await token(server, 'outage', { identity: 'o' }),
    });
    await c.close();
    await new Promise((r) => setTimeout(r, 1000));

    receiver.mode = 'ok';
    await receiver.start(receiver.port);
    const received = () =>
      new Set(
        receiver.deliveries
          .filter((d) => d.envelope.event === 'recording.ready')
          .map((d) => (d.envelope.data as { recordingId: string }).recordingId),
      );
    await waitFor(
      () => published.every((id) => received().has(id)),
      60000,
      'every published event to arrive',
    );
    await waitFor(
      () =>
        receiver.deliveries.some(
          (d) =>
            d.envelope.event === 'room.ended' && (d.envelope.data as { roomId: string }).roomId === 'outage',
        ),
      60000,
      'the outage room events to arrive',
    );
    const outage = receiver.deliveries.filter(
      (d) => (d.envelope.data as { roomId?: string }).roomId === 'outage',
    );
    expect(new Set(outage.map((d) => d.envelope.event))).toEqual(
      new Set(['recording.ready', 'room.started', 'participant.joined', 'participant.left', 'room.ended']),
    );
    expect(outage.every((d) => d.signatureOk)).toBe(true);
  });
});
