import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** The OpenAPI document at /api/docs-json and its UI at /api/docs. */
export function setUpOpenApi(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('MCU media server')
    .setDescription(
      'Rooms, join tokens and participants of the WebRTC MCU. Every endpoint needs ' +
        '`Authorization: Bearer <ADMIN_API_KEY>`. Errors are `{ error, message }`. ' +
        'The signaling protocol is described in docs/signaling.md.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_API_KEY' })
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
