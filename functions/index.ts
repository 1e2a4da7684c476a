// The package `main`: registers both function targets with functions-framework, so one built package serves
// `functions-framework --target=detect` and `--target=notify`, configured only by environment variables.
//
// Each target's module graph (config, core, sinks, clients) is imported by its first invocation, never here:
// a detect instance never loads the sinks, a notify instance never loads the detectors, and the cold start of
// either is this file plus the framework. The environment is read here, once, and passed down as a plain object.
import { cloudEvent, type CloudEvent } from '@google-cloud/functions-framework';

type Handler = (event: CloudEvent<unknown>) => Promise<void>;

/** Loads the handler on the first call; a failed load is retried by the next call rather than cached. */
function lazy(load: () => Promise<Handler>): Handler {
  let handler: Promise<Handler> | undefined;
  return async (event) => {
    handler ??= load().catch((error: unknown) => {
      handler = undefined;
      throw error;
    });
    return (await handler)(event);
  };
}

cloudEvent<unknown>(
  'detect',
  lazy(async () => {
    const { createDetectFunction } = await import('./detect.js');
    return createDetectFunction({ env: process.env });
  }),
);

cloudEvent<unknown>(
  'notify',
  lazy(async () => {
    const { createNotifyFunction } = await import('./notify.js');
    return createNotifyFunction({ env: process.env });
  }),
);
