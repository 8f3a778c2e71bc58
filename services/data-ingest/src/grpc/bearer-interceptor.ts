import {
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
  ServerListenerBuilder,
  status,
} from '@grpc/grpc-js';
import type { BearerAuth } from '@visualgo/platform';

/** Answered without a token, as HTTP health is: orchestrators probe it. */
const PUBLIC_PREFIX = '/grpc.health.v1.Health/';

/**
 * Requires `authorization: Bearer <token>` metadata on every call but health checks; others get
 * UNAUTHENTICATED before their handler runs. The token is never echoed.
 */
export function bearerInterceptor(auth: BearerAuth, onRefused?: () => void): ServerInterceptor {
  return (method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) => {
        next(
          new ServerListenerBuilder()
            .withOnReceiveMetadata((metadata, forward) => {
              const value = metadata.get('authorization')[0];
              if (
                method.path.startsWith(PUBLIC_PREFIX) ||
                auth.matchesHeader(typeof value === 'string' ? value : undefined)
              ) {
                forward(metadata);
                return;
              }
              onRefused?.();
              call.sendStatus({
                code: status.UNAUTHENTICATED,
                details: 'a valid bearer token is required (metadata authorization: Bearer <token>)',
                metadata: new Metadata(),
              });
            })
            .build(),
        );
      },
    });
}
